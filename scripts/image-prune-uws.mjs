#!/usr/bin/env node
// Keep only the uWebSockets.js binary the running Node loads (uws_<platform>_<arch>_<ABI>.node):
// the package ships 20 binaries for other platforms and ABIs (about 107 MB) that an image never
// loads. Run by the Dockerfile's deps stage with the image's own node, so the kept binary is the
// image's; the image rehearsal test runs it on its assembled copy. Usage: image-prune-uws.mjs [node_modules]
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

const dir = join(process.argv[2] ?? "node_modules", "uWebSockets.js");
const keep = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
const binaries = readdirSync(dir).filter((f) => /^uws_.*\.node$/.test(f));
if (!binaries.includes(keep)) {
  console.error(`image-prune-uws: ${dir} has no ${keep} (Node ${process.version}): this Node cannot run the gateway`);
  process.exit(1);
}
for (const f of binaries) if (f !== keep) rmSync(join(dir, f));
console.log(`image-prune-uws: kept ${keep}, removed ${binaries.length - 1} other binaries`);
