# Ferry's worker image: the Pod that runs one function task (FERRY_WORKER_IMAGE). Build from the root:
#   docker build -f deploy/worker.Dockerfile -t ferry-worker:0.1.0 .
FROM node:20-slim

ENV NODE_ENV=production \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

WORKDIR /app

# Same dependencies and sources as Ferry itself: the worker runs TypeScript through tsx too.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY . .

USER 1000:1000
# ENTRYPOINT, not CMD: a Pod's `args` are then appended to it instead of replacing the worker.
ENTRYPOINT ["node", "/app/bin/ferry-worker.js"]
