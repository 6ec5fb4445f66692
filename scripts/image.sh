#!/usr/bin/env bash
# Build, run and export the container image without a container engine (what CI does; a
# developer on a Debian machine can run it too, as root):
#
#   1. base:   the local stand-in for node:24.22.3-trixie-slim (scripts/image-rootfs.sh base),
#              imported once as localhost/node:24.22.3-trixie-slim;
#   2. build:  the Dockerfile with `buildah bud --isolation chroot` (vfs storage) over that base;
#   3. run:    `skopeo copy` to an OCI layout, `umoci unpack`, then scripts/image-smoke.mjs runs the
#              rootfs under bwrap read-only as uid 1000 with tini as PID 1 against a real
#              nats-server on loopback (/healthz, /readyz, one authenticated delivery, SIGTERM drain);
#   4. export: an OCI archive and its SBOM (scripts/sbom.mjs) in $IMAGE_OUT (default .tmp/image).
#
# A TLS-intercepting egress (a CA the build's npm must trust) is passed as BUILD_CA_BUNDLE, a PEM
# file (default: NODE_EXTRA_CA_CERTS, what this machine's Node already trusts): it goes in as the
# build secret `build-ca`, mounted only into the npm ci steps of the build and deps stages and
# named by a build arg (BUILD_CA) only they declare. It never enters an image layer or the image config:
# step 3 checks.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

NODE_VERSION=24.22.3
BASE=localhost/node:$NODE_VERSION-trixie-slim
IMAGE=localhost/sms-ws-gateway:ci
cache=${XDG_CACHE_HOME:-$HOME/.cache}/sms-ws-gateway
store=$cache/containers
out=${IMAGE_OUT:-$repo/.tmp/image}
bh() { buildah --storage-driver vfs --root "$store/storage" --runroot "$store/run" "$@"; }
t0=$(date +%s)
step() { echo "image: [$(($(date +%s) - t0)) s] $*"; }

for tool in buildah skopeo umoci bwrap mmdebstrap; do
  command -v "$tool" >/dev/null || { echo "image: $tool is missing (apt-get install buildah skopeo umoci bubblewrap mmdebstrap)" >&2; exit 1; }
done
mkdir -p "$store" "$out"

# ---- 1. base ---------------------------------------------------------------------------------
base_tar=$(scripts/image-rootfs.sh base)
if [ "$(cat "$store/base.stamp" 2>/dev/null)" != "$base_tar" ] || ! bh inspect --type image "$BASE" >/dev/null 2>&1; then
  step "importing $(basename "$base_tar") as $BASE"
  ctr=$(bh from scratch)
  mnt=$(bh mount "$ctr")
  tar -C "$mnt" -xf "$base_tar"
  bh umount "$ctr" >/dev/null
  bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env NODE_VERSION="$NODE_VERSION" \
    --cmd node --os linux --arch amd64 "$ctr"
  bh commit --quiet --rm --format oci "$ctr" "$BASE" >/dev/null
  echo "$base_tar" > "$store/base.stamp"
fi

# ---- 2. build --------------------------------------------------------------------------------
BUILD_CA_BUNDLE=${BUILD_CA_BUNDLE:-${NODE_EXTRA_CA_CERTS:-}}
ca_args=()
if [ -n "$BUILD_CA_BUNDLE" ]; then
  ca_args=(--secret "id=build-ca,src=$BUILD_CA_BUNDLE" --build-arg BUILD_CA=/run/secrets/build-ca)
fi
step "buildah bud (Dockerfile, NODE_IMAGE=$BASE)"
bh bud --quiet --isolation chroot --format oci --layers=false "${ca_args[@]}" \
  --build-arg NODE_IMAGE="$BASE" -t "$IMAGE" -f Dockerfile . >/dev/null
# Drop the previous build's image and the intermediate stages (vfs keeps full copies).
bh rmi --prune >/dev/null 2>&1 || true

# ---- 3. run ----------------------------------------------------------------------------------
work=$cache/image-run
rm -rf "$work" && mkdir -p "$work"
step "skopeo copy + umoci unpack"
skopeo copy --quiet "containers-storage:[vfs@$store/storage+$store/run]$IMAGE" "oci:$work/oci:ci"
umoci unpack --image "$work/oci:ci" "$work/bundle" >/dev/null
rootfs=$work/bundle/rootfs
config=$(skopeo inspect --config "oci:$work/oci:ci")

# The build's CA stays out: no secret file, no env, no npm config, none of its certificates.
leak=""
[ -e "$rootfs/run/secrets/build-ca" ] && leak+=" /run/secrets/build-ca exists;"
grep -qE 'NODE_EXTRA_CA_CERTS|BUILD_CA' <<<"$config" && leak+=" the CA's variable in the image config;"
grep -rqs cafile "$rootfs/usr/local/etc/npmrc" "$rootfs/root/.npmrc" && leak+=" an npm cafile;"
if [ -n "$BUILD_CA_BUNDLE" ]; then
  # The bundle's certificates that the base's own trust store lacks are the build-only ones: one
  # line of each (a base64 line of its body) must appear in no file of the image.
  base_store=$(mktemp)
  tar -xOf "$base_tar" ./etc/ssl/certs/ca-certificates.crt > "$base_store"
  while IFS= read -r line; do
    grep -rqsF -- "$line" "$rootfs" && leak+=" a build-only CA certificate is in the image;" && break
  done < <(node -e '
    const fs = require("fs");
    const pems = (f) => fs.readFileSync(f, "utf8").match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    const base = new Set(pems(process.argv[2]).map((p) => p.replace(/\s+/g, "")));
    const extra = pems(process.argv[1]).filter((p) => !base.has(p.replace(/\s+/g, "")));
    for (const p of extra) console.log(p.split("\n")[3]);
    console.error(`image: ${extra.length} build-only CA certificate(s) checked absent from the image`);
  ' "$BUILD_CA_BUNDLE" "$base_store")
  rm -f "$base_store"
fi
if [ -n "$leak" ]; then echo "image: the build CA leaked into the image:$leak" >&2; exit 1; fi
grep -q '"User": *"1000:1000"' <<<"$config" || { echo "image: the image does not run as 1000:1000" >&2; exit 1; }

step "smoke run: bwrap, read-only root, uid 1000, tini as PID 1, real nats-server"
node scripts/image-smoke.mjs "$rootfs"

# ---- 4. export -------------------------------------------------------------------------------
step "skopeo copy to an OCI archive + SBOM"
rm -f "$out/sms-ws-gateway.oci.tar"
skopeo copy --quiet "oci:$work/oci:ci" "oci-archive:$out/sms-ws-gateway.oci.tar:sms-ws-gateway"
NODE_VERSION=$(grep -oE '"NODE_VERSION=[^"]+' <<<"$config" | cut -d= -f2) node scripts/sbom.mjs "$rootfs" > "$out/sms-ws-gateway.cdx.json"
unpacked=$(du -sb "$rootfs" | cut -f1)
archive=$(stat -c %s "$out/sms-ws-gateway.oci.tar")
uws=$(du -sb "$rootfs/app/node_modules/uWebSockets.js" | cut -f1)
echo "image: unpacked $((unpacked / 1000000)) MB (node_modules/uWebSockets.js $((uws / 1000000)) MB), OCI archive $((archive / 1000000)) MB, in $(($(date +%s) - t0)) s"
echo "image: $out/sms-ws-gateway.oci.tar, $out/sms-ws-gateway.cdx.json"
if [ "$unpacked" -ge 250000000 ]; then echo "image: over the 250 MB target (unpacked)" >&2; exit 1; fi
