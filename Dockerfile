# Build: compile TypeScript with the dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime: production dependencies, the compiled gateway, its catalog and NodeSet2; non-root.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    SMARTGEAR_BROKER_HOST=0.0.0.0 \
    SMARTGEAR_LOG_FORMAT=json
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config
COPY nodeset ./nodeset
RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME ["/app/data"]
# 4840 OPC UA, 1883 the embedded MQTT broker, 8883 its TLS listener (broker.tls.enabled).
EXPOSE 4840 1883 8883
CMD ["node", "dist/src/cli.js", "run", "--config", "config/gateway.yaml"]
