/** `sms-ws tokens revoke JTI`: closes the socket using that token, on every node, and refuses it. */
import type { Config } from "../config/config.js";
import { revokeTokenId } from "../tokens/token-revocation.js";
import { stringFlag, type ParsedArgs } from "./args.js";
import { cliConnect, cliOpenBucket } from "./connect.js";

export async function tokensCommand(config: Config, args: ParsedArgs, out: (line: string) => void): Promise<void> {
  if (args.positionals[1] !== "revoke") throw new Error("tokens needs: revoke JTI");
  const jti = args.positionals[2];
  if (jti === undefined) throw new Error("tokens revoke needs JTI");
  const nc = await cliConnect(config);
  try {
    await revokeTokenId(await cliOpenBucket(nc, config.revokedTokensBucket), jti, new Date(), stringFlag(args, "reason"));
    out(`revoked token ${jti}`);
  } finally {
    await nc.close();
  }
}
