# Ferry's worker image: the Pod that runs one function task (FERRY_WORKER_IMAGE). Build from the root:
#   docker build -f deploy/worker.Dockerfile -t ferry-worker:0.1.0 .
# The worker is one file, dist/worker.cjs: worker/ and everything it imports bundled by `npm run build`.
# It needs no node_modules, so the image is Node and that file; nothing is compiled when a Pod starts.

FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:20-slim

ENV NODE_ENV=production

WORKDIR /app
COPY --from=build /src/dist/worker.cjs ./worker.cjs

# Numeric uid so Kubernetes' runAsNonRoot can verify it (the image's "node" user).
USER 1000:1000
# ENTRYPOINT, not CMD: a Pod's `args` are then appended to it instead of replacing the worker.
ENTRYPOINT ["node", "/app/worker.cjs"]
