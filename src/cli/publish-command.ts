import type { Config } from "../config/config.js";
import { publishEvent } from "../publisher/index.js";
import { stringFlag, type ParsedArgs } from "./args.js";
import { cliConnect } from "./connect.js";

export async function publishCommand(config: Config, args: ParsedArgs, out: (line: string) => void): Promise<void> {
  const json = stringFlag(args, "json");
  if (json === undefined) throw new Error("publish needs --json '<event object>'");
  let input: unknown;
  try {
    input = JSON.parse(json);
  } catch (err) {
    throw new Error(`--json is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) throw new Error("--json must be an object");
  // The durable path publishes as the producer user; the direct path needs the direct-producer user.
  const direct = args.flags.has("direct");
  const nc = await cliConnect(config, direct ? "directProducer" : "producer");
  try {
    const published = await publishEvent(nc, input as Record<string, unknown>, { direct });
    out(JSON.stringify({ subject: published.subject, seq: published.seq, event: published.event }));
  } finally {
    await nc.close();
  }
}
