# syntax=docker/dockerfile:1.7
# arogya-live image: build with `docker build -t arogya-live:<git-sha> .` (DEPLOYMENT.md, "Routine deploy").

# Node 24 LTS (supported to April 2028; Node 20 ended April 2026 and the AWS SDK drops it in 2027).
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: install every dependency, compile TypeScript, then drop dev dependencies -------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NODE_ENV=development
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build
RUN npm prune --omit=dev --no-audit --no-fund

# --- runtime: Debian slim, what the offline engine needs, a non-root user ----------------------
FROM ${NODE_IMAGE} AS runtime

# Offline speech engine packages (fallback engine; production uses Transcribe Medical).
# Change them here and only here.
ARG OFFLINE_ENGINE_PACKAGES="libpocketsphinx3 pocketsphinx-en-us"

RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini ${OFFLINE_ENGINE_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*

# Amazon RDS certificate authorities, so DB_SSL=verify-full can verify the database (Node adds
# NODE_EXTRA_CA_CERTS to its trust store). Fetched at build time; the build machine needs network.
ADD --chmod=644 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /etc/ssl/certs/rds-global-bundle.pem

RUN groupadd --gid 10001 arogya \
 && useradd --uid 10001 --gid arogya --no-create-home --home-dir /app --shell /usr/sbin/nologin arogya \
 && mkdir -p /app /var/lib/arogya \
 && chown arogya:arogya /var/lib/arogya

WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/var/lib/arogya \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/rds-global-bundle.pem

COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY migrations ./migrations
COPY public ./public

USER 10001:10001
EXPOSE 3000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# tini reaps children (the offline engine) and forwards SIGTERM to node, which drains sessions.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--invocation-count-for-maglev=50", "--invocation-count-for-turbofan=500", "dist/main.js"]
