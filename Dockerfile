# syntax=docker/dockerfile:1
#
# One image for every Provisio service (and for the migrations Job).
#
#   docker build --build-arg APP=scheduler -t provisio/scheduler .
#   docker run --env-file .env provisio/scheduler                          # runs apps/scheduler/dist/main.js
#   docker run --env-file .env provisio/scheduler node migrations/dist/cli.js run
#
# Every image holds all five apps; APP only picks the default command, so Kubernetes can run one image
# and name the app in each Deployment's `command`.
#
# Stages: manifests (package.json files only, for a cached `npm ci`) -> build (npm ci + nx build)
#         -> prune (drop dev dependencies and sources) -> runtime (node_modules + dist, non-root).

ARG NODE_IMAGE=node:20-bookworm-slim

# --- manifests: the workspace's package.json files and the lockfile, so `npm ci` re-runs only when they change.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir /out \
 && cp --parents package.json package-lock.json /out/ \
 && for f in libs/*/package.json apps/*/package.json migrations/package.json; do cp --parents "$f" /out/; done

# --- build: every dependency (dev included), then SWC builds of libs/*, apps/* and migrations/.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NX_DAEMON=false \
    NX_NO_CLOUD=true \
    NX_SKIP_NX_CACHE=true \
    CI=true
COPY --from=manifests /out/ ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY . .
RUN npx nx run-many -t build --output-style=static

# --- prune: production dependencies only (the @provisio/* workspace links stay), and only package.json + dist
# of each workspace package.
FROM build AS prune
RUN npm prune --omit=dev --no-audit --no-fund \
 && for pkg in libs/* apps/* migrations; do \
      find "$pkg" -mindepth 1 -maxdepth 1 ! -name dist ! -name package.json ! -name node_modules -exec rm -rf {} + ; \
    done \
 && find libs apps migrations -path '*/dist/*' \( -name '*.spec.js' -o -name '*.int-spec.js' -o -name '*.tsbuildinfo' \) -delete \
 && rm -rf node_modules/.cache node_modules/.package-lock.json

# --- runtime
FROM ${NODE_IMAGE} AS runtime
ARG APP=script-registry
ENV NODE_ENV=production \
    APP=${APP} \
    NODE_OPTIONS=--enable-source-maps
WORKDIR /app
COPY --from=prune /app/package.json ./package.json
COPY --from=prune /app/node_modules ./node_modules
COPY --from=prune /app/libs ./libs
COPY --from=prune /app/migrations ./migrations
COPY --from=prune /app/apps ./apps
# Files stay root-owned and read-only to the service user: the root filesystem can be mounted read-only.
USER node
# script-registry 3001, execution-worker 3002, scheduler 3003, provisioning-queue 3004, reconciler 3005
# (each app's default PORT; /health/live, /health/ready, /metrics and /docs are served on it).
EXPOSE 3001-3005
# No HEALTHCHECK: Kubernetes probes (and the compose healthchecks) call /health/live and /health/ready.
# `exec` makes node PID 1, so it receives SIGTERM and shuts down gracefully (SHUTDOWN_TIMEOUT_MS).
CMD ["sh", "-c", "exec node \"apps/${APP}/dist/main.js\""]
