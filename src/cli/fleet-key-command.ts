/**
 * `sms-ws fleet-key [--json]`: a new fleet key pair (docs/operations-fleet.md, "Who can send
 * what"). The signing key goes to the gateway nodes only (a Secret); the public key to the
 * operators' `sms-ws conns|kick|top` (not a secret). Nothing is stored: the output is the copy.
 */
import { generateFleetKey } from "../fleet/fleet-key.js";
import type { ParsedArgs } from "./args.js";

export function fleetKeyCommand(args: ParsedArgs, out: (line: string) => void): void {
  const { signingKey, publicKey } = generateFleetKey();
  if (args.flags.has("json")) {
    out(JSON.stringify({ FLEET_SIGNING_KEY: signingKey, FLEET_PUBLIC_KEY: publicKey }));
    return;
  }
  out("# Secret: the gateway nodes only (k8s: Secret sms-ws-fleet-key, key signing-key). Never give it to the CLI.");
  out(`FLEET_SIGNING_KEY=${signingKey}`);
  out("# Public: operators running sms-ws conns|kick|top, and (during a rotation) the nodes.");
  out(`FLEET_PUBLIC_KEY=${publicKey}`);
}
