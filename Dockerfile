# syntax=docker/dockerfile:1
# Ledger: a multi-stage image on Node 24 LTS, the exact version in .node-version that CI tests
# (.ci/run fails when the two disagree). The build stage installs from the lockfile exactly as CI
# does (npm ci), compiles TypeScript and drops dev dependencies; the runtime stage carries only
# what runs, as the unprivileged "node" user, with the database on a volume.

FROM node:24.21.0-bookworm AS build
WORKDIR /app
# better-sqlite3 13 ships Node-API prebuilt binaries, so npm ci compiles nothing here.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json buf.yaml buf.gen.yaml ./
COPY proto ./proto
COPY gen ./gen
COPY migrations ./migrations
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24.21.0-bookworm-slim AS runtime
ENV NODE_ENV=production \
    LEDGER_HOST=0.0.0.0 \
    LEDGER_PORT=50051 \
    LEDGER_DB=/data/ledger.db
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 50051
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.LEDGER_PORT||50051)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM from `docker stop` starts the graceful shutdown; keep the stop timeout above
# LEDGER_SHUTDOWN_TIMEOUT_MS (default 10 s), e.g. `docker stop -t 15`.
CMD ["node", "dist/src/main.js"]
