# No `# syntax=` line: BuildKit would pull that frontend image from a registry
# first, and the file uses nothing beyond the built-in Dockerfile syntax, so it
# also builds offline and with the legacy builder (`npm run compose:smoke`).
#
# One image for all three services; the command picks the service:
#   node apps/webhook/dist/main.js          (default)
#   node apps/media-gateway/dist/main.js
#   node apps/realtime-bridge/dist/main.js
#   node packages/db/dist/cli.js migrate|seed
#
#   docker build -t voice-agent-backend .
#   docker run --env-file .env -p 3000:3000 voice-agent-backend
#   docker run --env-file .env -p 3001:3001 voice-agent-backend node apps/media-gateway/dist/main.js

# The base of every stage. The default is the official image; any image with
# the same interface works (node and npm on PATH, a `node` user with uid 1000):
# `npm run compose:smoke` passes one built from Debian (infra/compose/local-images).
ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------
# manifests: only the package.json of every workspace, in place.
# npm ci needs each workspace's package.json before it runs (it links the
# workspaces into node_modules/@voice). Copying them here, rather than naming
# each one, keeps new workspaces working; the next stages copy this stage's
# output, whose content (and so the npm ci layer cache) only changes when a
# package.json does.
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY apps apps
COPY packages packages
RUN find apps packages -mindepth 2 -maxdepth 2 ! -name package.json -exec rm -rf {} +

# ---------------------------------------------------------------------------
# build: every dependency (dev included: typescript, turbo), then tsc per workspace.
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV TURBO_TELEMETRY_DISABLED=1 \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
COPY --from=manifests /src/ ./
RUN npm ci
COPY tsconfig.base.json tsconfig.json turbo.json ./
COPY apps apps
COPY packages packages
# Build, then gather what the runtime needs from each workspace into /out: its
# package.json (the exports map the node_modules/@voice links resolve through),
# its dist/, and its assets/ (files the code finds next to dist/, such as the
# media gateway's pre-rendered clips).
RUN npm run build \
 && mkdir -p /out \
 && for dir in apps/* packages/*; do \
      mkdir -p "/out/$dir" && cp "$dir/package.json" "/out/$dir/"; \
      for part in dist assets; do \
        if [ -d "$dir/$part" ]; then cp -R "$dir/$part" "/out/$dir/"; fi; \
      done; \
    done

# ---------------------------------------------------------------------------
# prod-deps: production dependencies only, from the same lock file.
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
COPY --from=manifests /src/ ./
RUN npm ci --omit=dev

# ---------------------------------------------------------------------------
# runtime
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# node_modules (root and any nested per workspace) with the @voice/* links,
# then the compiled workspaces the links point at. Owned by root, read-only
# for the service user: the services write nothing to disk.
COPY --from=prod-deps /app/ ./
COPY --from=build /out/ ./
# The image's unprivileged user (uid 1000).
USER node
# webhook 3000, media-gateway 3001, realtime-bridge 3002 (ops endpoints only).
EXPOSE 3000 3001 3002
# No HEALTHCHECK here: the port depends on the service; docker-compose.yml and
# the Kubernetes probes check GET /healthz on the right one.
# Node handles SIGTERM itself (one drain-then-exit path per service); run with
# an init (compose `init: true`) to reap children and forward signals.
CMD ["node", "apps/webhook/dist/main.js"]
