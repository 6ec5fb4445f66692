// Writes closecodes.json (embedded by closecodes.go) from the TypeScript close-code table, the
// one source of truth: run `go generate` in clients/go after `npm run build` at the repository root.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
const root = new URL("../../../", import.meta.url);
const { CloseCode, CLOSE_ACTIONS, HEARTBEAT_TIMEOUT_CLOSE } = await import(new URL("dist/client/close-codes.js", root).href);
const closeCodes = Object.entries(CloseCode).map(([name, code]) => {
  const a = CLOSE_ACTIONS[code];
  return { code, name, action: a.kind, error: a.error ?? "", freshCredential: a.freshCredential === true };
});
const out = { heartbeatTimeoutClose: HEARTBEAT_TIMEOUT_CLOSE, closeCodes };
writeFileSync(fileURLToPath(new URL("closecodes.json", new URL("../", import.meta.url))), JSON.stringify(out, null, 2) + "\n");
