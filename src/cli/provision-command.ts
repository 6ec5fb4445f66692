/**
 * `sms-ws provision`: create or update the stream and the buckets (src/bus/provision.ts) with the
 * admin NATS user. Prints one line per resource: created, updated or unchanged.
 *
 * `sms-ws provision --print-nats-config [--direct-producer]` prints the nats-server authorization
 * block rendered from src/bus/permissions.ts (passwords as $ENV references), and with
 * STREAM_PARTITIONS > 1 the subject mapping of src/bus/partitions.ts; it connects nowhere.
 */
import { DEFAULT_ROLES, permissionMatrix, renderAuthorization } from "../bus/permissions.js";
import { renderMappings } from "../bus/partitions.js";
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
    const mappings = renderMappings(config.streamPartitions);
    if (mappings !== "") out(mappings);
    out(renderAuthorization({ roles, matrix: permissionMatrix({ apiKeys: config.keyBucket, partitions: config.streamPartitions }) }).trimEnd());
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
