// Types of bench/lib/centrifugo.mjs (for test/unit/bench-centrifugo.test.ts).
import type { ChildProcess } from "node:child_process";

export const CENTRIFUGO_MODULE: string;
export const CENTRIFUGO_VERSION: string;
export const ADMIN_CHANNEL: string;
export const API_ADMIN_CHANNEL: string;
export function goBinDir(): string;
export function centrifugoBin(): string;
export function centrifugoVersion(bin?: string): string | null;
export function ensureCentrifugo(opts?: { allowBuild?: boolean }): string;
export function connectionToken(secret: string, sub: string, channels: string[], ttlSeconds?: number): string;
export function scopeChannel(tenantId: string, appId: string): string;
export function startCentrifugo(opts: { bin: string; dir: string; natsUrl: string; rawMode?: boolean }): Promise<{
  child: ChildProcess;
  port: number;
  secret: string;
  apiKey: string;
  configFile: string;
}>;
