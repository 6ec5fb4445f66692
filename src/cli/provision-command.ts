/**
 * `sms-ws provision`: create or update the stream and the buckets (src/bus/provision.ts) with the
 * admin NATS user. Prints one line per resource: created, updated or unchanged.
 *
 * `sms-ws provision --print-nats-config [--direct-producer]` prints the nats-server authorization
 * block rendered from src/bus/permissions.ts (passwords as $ENV references) and connects nowhere.
 */
import { DEFAULT_ROLES, permissionMatrix, renderAuthorization } from "../bus/permissions.js";
import { provision } from "../bus/provision.js";
import type { Config } from "../config/config.js";
import { ConfigError } from "../errors.js";
import type { ParsedArgs } from "./args.js";
import { cliConnect } from "./connect.js";

const DEFAULT_TOKEN_MAX_TTL_S = 86_400;

/**
 * TOKEN_MAX_TTL_S: the config's value once it has the setting, else the environment, else
 * 86 400 s. Revocations of single tokens need to live no longer than the longest token.
 */
export function tokenMaxTtlS(config: Config, env: Readonly<Record<string, string | undefined>> = process.env): number {
  const fromConfig = (config as Partial<Record<"tokenMaxTtlS", unknown>>).tokenMaxTtlS;
  if (typeof fromConfig === "number") return fromConfig;
  const raw = env.TOKEN_MAX_TTL_S;
  if (raw === undefined || raw.trim() === "") return DEFAULT_TOKEN_MAX_TTL_S;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < 1) {
    throw new ConfigError("TOKEN_MAX_TTL_S", raw, "an integer number of seconds, at least 1");
  }
  return value;
}

export async function provisionCommand(
  config: Config,
  args: ParsedArgs,
  out: (line: string) => void,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<void> {
  if (args.flags.has("print-nats-config")) {
    const roles = args.flags.has("direct-producer") ? [...DEFAULT_ROLES, "directProducer" as const] : DEFAULT_ROLES;
    out(renderAuthorization({ roles, matrix: permissionMatrix({ apiKeys: config.keyBucket }) }).trimEnd());
    return;
  }
  const ttlS = tokenMaxTtlS(config, env);
  const nc = await cliConnect(config);
  try {
    for (const step of await provision(nc, config, ttlS)) {
      out(`${step.kind} ${step.name}: ${step.action} (${step.detail})`);
    }
  } finally {
    await nc.close();
  }
}
