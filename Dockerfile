# syntax=docker/dockerfile:1
#
# sms-ws-gateway image: build with `docker build -t sms-ws-gateway:TAG .`
#
# Node 24 LTS on Debian 13 trixie (glibc 2.41) is deliberate: uWebSockets.js 20.57 ships prebuilt
# binaries per platform and Node ABI (uws_linux_x64_137.node for Node 24), built for glibc 2.38 or
# later. Alpine (musl), Debian 12 (glibc 2.36) or another Node major cannot load them, and the node
# refuses to start (docs/runtime.md). The tag pins the Node patch version CI tests (.ci/run,
# scripts/image.sh); bump it, the uWebSockets.js version and CI together. The build arg lets CI
# build over its locally bootstrapped base of the same Debian and Node.
ARG NODE_IMAGE=node:24.22.3-trixie-slim

# ---- build: all dependencies, compile TypeScript to dist/ -------------------------------------
FROM ${NODE_IMAGE} AS build
# Build-time only, for a TLS-intercepting egress: its CA as the build secret `build-ca`, and this
# arg naming it for npm ci (scripts/image.sh: BUILD_CA_BUNDLE). Unset by default; a secret mount
# never enters a layer, and the runtime stage declares neither.
ARG BUILD_CA
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=build-ca,target=/run/secrets/build-ca \
    NODE_EXTRA_CA_CERTS="${BUILD_CA:-}" npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The browser builds (scripts/build-web.mjs): the SDK bundle (packages/client) and the developer
# console (dist/console, served at /console when CONSOLE_ENABLED=true).
COPY scripts/build-web.mjs ./scripts/
COPY packages/client/package.json ./packages/client/
RUN npm run build

# ---- deps: production dependencies only (no TypeScript, vitest, ws...) -----------------------
FROM ${NODE_IMAGE} AS deps
ARG BUILD_CA
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=build-ca,target=/run/secrets/build-ca \
    NODE_EXTRA_CA_CERTS="${BUILD_CA:-}" npm ci --omit=dev --no-audit --no-fund
# Only the uWS binary this image's Node loads (the package ships 20 others: about 107 MB).
COPY scripts/image-prune-uws.mjs ./scripts/
RUN node scripts/image-prune-uws.mjs node_modules

# ---- runtime ----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM to node (which starts the graceful drain) and reaps zombies.
# Node as PID 1 would still get SIGTERM through our handler, but nothing would reap children.
# npm and corepack go too: the image runs `node dist/cli/main.js`, never a package manager.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
WORKDIR /app
ENV NODE_ENV=production
# App files stay owned by root and read-only for the runtime user; the container writes nothing
# (Kubernetes runs it with readOnlyRootFilesystem).
COPY --from=deps /app/node_modules ./node_modules
# package.json is needed at runtime: its "type": "module" makes dist/*.js ESM.
COPY package.json ./
# dist/ includes dist/console, the developer console's static files (off unless CONSOLE_ENABLED).
COPY --from=build /app/dist ./dist
# Numeric uid:gid of the image's `node` user, so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# 8080: PORT (/ws, /healthz, /readyz). 9100: METRICS_PORT (/metrics).
EXPOSE 8080 9100
# No HEALTHCHECK: Kubernetes ignores Docker's HEALTHCHECK and uses the readiness (/readyz) and
# liveness (/healthz) probes in k8s/base/deployment.yaml instead; the slim image has no curl, and
# spawning a second node process every interval only to poll /healthz costs ~40 MB each time.
# Under plain Docker/Compose add e.g.:
#   healthcheck: {test: ["CMD", "node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]}
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/cli/main.js", "serve"]
