#!/usr/bin/env bash
# Run a command on the production runtime (Node 24 + uWS 20.57 on Debian 13 trixie), on a host
# that is older: the cached test rootfs (scripts/image-rootfs.sh test) under bwrap, with this
# repository bind-mounted at the same path (its node_modules hold the 20.57 binaries, which load
# there). The host network is shared (tests use loopback only). The host's nats-server binaries
# are bound in, so the suite runs against the same NATS versions as on the host:
# `nats-server` from PATH, and NATS_SERVER_BIN (and the nats CLI, NATS_CLI_BIN) when set.
#
#   scripts/image-rootfs-run.sh npm test
#   scripts/image-rootfs-run.sh npm run -s bench:quick
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
rootfs=$("$repo/scripts/image-rootfs.sh" test)
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }

args=(--bind "$rootfs" / --proc /proc --dev /dev --tmpfs /tmp --tmpfs /dev/shm
  --bind "$repo" "$repo" --chdir "$repo" --unshare-pid --die-with-parent
  --clearenv --setenv PATH /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --setenv HOME /root --setenv LANG C.UTF-8
  --setenv CI "${CI:-1}")
mkdir -p "$rootfs$repo"
host_nats=$(command -v nats-server || true)
if [ -n "$host_nats" ]; then
  touch "$rootfs/usr/local/bin/nats-server"
  args+=(--ro-bind "$(readlink -f "$host_nats")" /usr/local/bin/nats-server)
fi
# The pinned Go builds (static binaries) at the same paths: NATS_SERVER_BIN, NATS_CLI_BIN.
for v in NATS_SERVER_BIN NATS_CLI_BIN; do
  bin=${!v:-}
  [ -n "$bin" ] || continue
  mkdir -p "$rootfs$(dirname "$bin")" && touch "$rootfs$bin"
  args+=(--ro-bind "$bin" "$bin" --setenv "$v" "$bin")
done
# Pass through what the suite and the bench read (never the host's CA or credentials).
for v in LOG_LEVEL BENCH_QUICK VITEST_MAX_WORKERS BENCH_GATEWAY_NODE_ARGS; do
  [ -n "${!v:-}" ] && args+=(--setenv "$v" "${!v}")
done
exec bwrap "${args[@]}" "$@"
