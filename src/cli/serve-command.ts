import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { startNode, type GatewayNode, type NodeOptions } from "../node.js";
import { loadUws } from "../runtime/uws-runtime.js";

export interface ServeOptions extends NodeOptions {
  /** Runs after the node has shut down, before the process exits. */
  afterStop?: () => Promise<void>;
}

/** Start a node and run the shutdown sequence on SIGTERM/SIGINT, with a hard deadline. */
export async function serve(config: Config, log: Logger, options: ServeOptions = {}): Promise<GatewayNode> {
  // No native uWS (or a JS shim that would pass the probes and die on the first client): refuse to start.
  loadUws();
  const node = await startNode(config, log, options);
  const onStopped = options.afterStop ?? (async () => {});
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
