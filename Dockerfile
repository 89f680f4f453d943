# syntax=docker/dockerfile:1
# recon: one image for every role. `docker build -t stripe-reversal-recon:0.1.0 .`, then
#   docker run … stripe-reversal-recon:0.1.0 migrate | serve | worker | start
# See docker-compose.yml and deploy/kubernetes/ for the roles wired together.

# --- build: full install (TypeScript, prisma CLI), generate the Prisma client, compile to dist/ --
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# postinstall runs `prisma generate` (scripts/prisma-generate.mjs), which needs the schema.
COPY scripts ./scripts
COPY prisma ./prisma
COPY prisma.config.ts tsconfig.json tsconfig.build.json ./
RUN npm ci --no-audit --no-fund
COPY src ./src
RUN npm run build

# --- runtime: production dependencies, the compiled code, the migrations; nothing else ----------
FROM node:20-bookworm-slim AS runtime
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional as well as --omit=dev: @prisma/client names `prisma` and `typescript` as
# optional peers, which npm otherwise installs (about 250 MB). No install script is needed here:
# the Prisma client is already compiled into dist/ (postinstall would only say so).
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
  && npm cache clean --force
COPY bin ./bin
COPY prisma/migrations ./prisma/migrations
# dist/ holds the compiled CLI and server, the generated Prisma client (dist/generated/prisma)
# and the console's static files.
COPY --from=build /app/dist ./dist

# The image's `node` user (uid 1000): nothing in /app is writable by the process.
USER node
ENV PORT=3000 HOST=0.0.0.0
EXPOSE 3000
# Liveness of the HTTP roles (serve, start). The worker role serves no HTTP: compose disables this
# check for it, and Kubernetes ignores HEALTHCHECK (the manifests have their own probes).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node is PID 1 and handles SIGTERM itself (drain, then exit within SHUTDOWN_TIMEOUT).
ENTRYPOINT ["node", "bin/recon.js"]
CMD ["start"]
