/**
 * `sms-ws provision`: create or update the stream and the buckets (src/bus/provision.ts) with the
 * admin NATS user. Prints one line per resource: created, updated or unchanged.
 *
 * `sms-ws provision --print-nats-config [--direct-producer]` prints the nats-server `accounts`
 * block rendered from src/bus/permissions.ts (src/bus/nats-accounts.ts; passwords as $ENV
 * references), with STREAM_PARTITIONS > 1 the producers' subject mapping in it; it connects nowhere.
 */
import { renderAuthorization } from "../bus/nats-accounts.js";
import { DEFAULT_ROLES, permissionMatrix } from "../bus/permissions.js";
import { provision } from "../bus/provision.js";
import type { Config } from "../config/config.js";
import type { ParsedArgs } from "./args.js";
import { cliConnect } from "./connect.js";

export async function provisionCommand(
  config: Config,
  args: ParsedArgs,
  out: (line: string) => void,
): Promise<void> {
  if (args.flags.has("print-nats-config")) {
    const roles = args.flags.has("direct-producer") ? [...DEFAULT_ROLES, "directProducer" as const] : DEFAULT_ROLES;
    const partitions = config.streamPartitions;
    out(renderAuthorization({ roles, partitions, matrix: permissionMatrix({ apiKeys: config.keyBucket, partitions }) }).trimEnd());
    return;
  }
  const nc = await cliConnect(config);
  try {
    for (const step of await provision(nc, config)) {
      out(`${step.kind} ${step.name}: ${step.action} (${step.detail})`);
    }
  } finally {
    await nc.close();
  }
}
