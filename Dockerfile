# Build: compile TypeScript with the dev dependencies.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime: production dependencies, the compiled gateway, its catalog and NodeSet2; non-root.
FROM node:22-bookworm-slim AS runtime
# The embedded broker and /healthz, /readyz, /metrics listen on all interfaces in a container
# (the defaults are loopback); logs are JSON lines. NODE_OPTIONS: src/shared/runtime-flags.ts.
# Risk accepted for `docker run` to work out of the box: without broker.users, anyone who reaches
# a published port 1883 may publish to the gateway. On a plant network, give broker.users in
# config/site and set SMARTGEAR_BROKER_ALLOW_ANONYMOUS_ON_NETWORK=false (README, Container).
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=128 \
    SMARTGEAR_BROKER_HOST=0.0.0.0 \
    SMARTGEAR_BROKER_ALLOW_ANONYMOUS_ON_NETWORK=true \
    SMARTGEAR_HTTP_HOST=0.0.0.0 \
    SMARTGEAR_LOG_FORMAT=json
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config
COPY nodeset ./nodeset
# config/site: the site's own files (its gateway.yaml, users.yaml), beside the shipped catalog and
# commands, which stay in the image and so follow its upgrades. data/pki: the OPC UA certificates.
RUN mkdir -p /app/config/site /app/data/pki && chown -R node:node /app/config/site /app/data
USER node
VOLUME ["/app/config/site", "/app/data", "/app/data/pki"]
# 4840 OPC UA, 1883 the embedded MQTT broker, 8883 its TLS listener (broker.tls.enabled),
# 9102 /healthz, /readyz and /metrics (http.port).
EXPOSE 4840 1883 8883 9102
# The slim image has no curl: Node's own fetch asks /healthz (SMARTGEAR_HTTP_PORT when set).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.SMARTGEAR_HTTP_PORT || 9102) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/cli.js", "run", "--config", "config/gateway.yaml"]
