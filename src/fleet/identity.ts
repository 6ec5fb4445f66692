/** Who this node is to the fleet: its host/pod name and the gateway's version (package.json). */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";

export interface NodeIdentity {
  /** POD_NAME (Kubernetes downward API) or HOSTNAME (a pod's name by default) or the OS host name. */
  readonly name: string;
  readonly version: string;
  /** The micro-service metadata (`nats micro info`). */
  readonly metadata: Readonly<Record<string, string>>;
}

/** package.json sits two levels above this file both in src/ (tests) and in dist/ (the image copies it). */
const PACKAGE_JSON = new URL("../../package.json", import.meta.url);

export function gatewayVersion(): string {
  const pkg = JSON.parse(readFileSync(PACKAGE_JSON, "utf8")) as { version?: unknown };
  if (typeof pkg.version !== "string") throw new Error(`no version in ${PACKAGE_JSON.pathname}`);
  return pkg.version;
}

export function nodeIdentity(env: Readonly<Record<string, string | undefined>>): NodeIdentity {
  const host = env.HOSTNAME || hostname();
  const pod = env.POD_NAME || undefined;
  return Object.freeze({
    name: pod ?? host,
    version: gatewayVersion(),
    metadata: Object.freeze({ host, ...(pod === undefined ? {} : { pod }), pid: String(process.pid) }),
  });
}
