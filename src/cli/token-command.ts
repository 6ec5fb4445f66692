/**
 * `sms-ws token`: mints a connection token with a signer's private key (no NATS needed).
 * Prints the token alone (for scripts), or with its jti and expiry under --json.
 */
import { readFile } from "node:fs/promises";
import { createConnectionToken, generateTokenId } from "../tokens/mint-token.js";
import type { TokenFilter } from "../tokens/claims.js";
import { stringFlag, type ParsedArgs } from "./args.js";
import { parseDurationSeconds } from "./duration.js";

export async function tokenCommand(args: ParsedArgs, out: (line: string) => void, now: () => number = Date.now): Promise<void> {
  const keyFile = required(args, "signer-key", "FILE");
  const kid = required(args, "kid", "KID");
  const tenantId = required(args, "tenant", "T");
  const appId = required(args, "app", "A");
  const ttlText = required(args, "ttl", "DURATION (90s, 15m, 2h, 1d)");
  const ttlSeconds = parseDurationSeconds(ttlText);
  if (ttlSeconds === undefined) throw new Error(`--ttl ${JSON.stringify(ttlText)} is not a duration like 90s, 15m, 2h or 1d`);
  const sub = stringFlag(args, "sub");
  const filter = parseFilterFlag(stringFlag(args, "filter"));
  const jti = stringFlag(args, "jti") ?? generateTokenId();

  let privateKey: string;
  try {
    privateKey = await readFile(keyFile, "utf8");
  } catch (err) {
    throw new Error(`cannot read --signer-key ${keyFile}: ${(err as Error).message}`, { cause: err });
  }
  const issuedAt = now();
  const token = createConnectionToken({
    privateKey,
    kid,
    tenantId,
    appId,
    ttlSeconds,
    jti,
    now: issuedAt,
    ...(sub === undefined ? {} : { sub }),
    ...(filter === undefined ? {} : { filter }),
  });
  if (args.flags.has("json")) {
    const exp = Math.floor(issuedAt / 1000) + ttlSeconds;
    out(JSON.stringify({ token, kid, tenantId, appId, jti, exp, expiresAt: new Date(exp * 1000).toISOString() }));
  } else {
    out(token);
  }
}

function required(args: ParsedArgs, flag: string, what: string): string {
  const value = stringFlag(args, flag);
  if (value === undefined) throw new Error(`token needs --${flag} ${what}`);
  return value;
}

/** The --filter JSON; its shape is checked with the token's other claims. */
function parseFilterFlag(text: string | undefined): TokenFilter | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as TokenFilter;
  } catch (err) {
    throw new Error(`--filter is not valid JSON: ${(err as Error).message}`);
  }
}
