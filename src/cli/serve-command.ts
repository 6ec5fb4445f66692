import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { startNode, type GatewayNode } from "../node.js";
import { assertNativeUws } from "../runtime/uws-runtime.js";

/** Start a node and run the shutdown sequence on SIGTERM/SIGINT, with a hard deadline. */
export async function serve(config: Config, log: Logger, onStopped: () => Promise<void> = async () => {}): Promise<GatewayNode> {
  // A JS-fallback uWS would pass the probes and die on the first client: refuse to start instead.
  assertNativeUws();
  const node = await startNode(config, log);
  const stop = (signal: string): void => {
    const deadline = setTimeout(() => {
      log.error({ signal }, "shutdown deadline passed; exiting");
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    node
      .shutdown(signal)
      .then(onStopped)
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  return node;
}
