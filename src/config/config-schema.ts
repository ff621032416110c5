/**
 * JSON Schema of the gateway configuration. Every key has a default, so an empty file is a valid
 * configuration (embedded broker, OPC UA on 4840). Every leaf can be overridden from the
 * environment by its key path: opcua.port ⇒ SMARTGEAR_OPCUA_PORT, mqtt.clientId ⇒ SMARTGEAR_MQTT_CLIENT_ID.
 */
const topicLevel = { type: "string", minLength: 1, pattern: "^[^/+#]+$" } as const;
const seconds = { type: "number", minimum: 0 } as const;

export const configSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    // No default: left out, the loader takes the catalog shipped with the gateway.
    catalog: { type: "string", minLength: 1 },
    log: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        level: { enum: ["error", "warn", "info", "debug"], default: "info" },
        format: { enum: ["auto", "json", "pretty"], default: "auto" },
      },
    },
    broker: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "integer", minimum: 0, maximum: 65535, default: 1883 },
      },
    },
    mqtt: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        url: { type: "string", pattern: "^$|^(mqtt|mqtts|tcp|tls|ws|wss)://", default: "" },
        clientId: { type: "string", minLength: 1, maxLength: 65535, default: "smartgear-gateway" },
        protocolVersion: { enum: [4, 5], default: 5 },
        keepalive: { type: "integer", minimum: 0, maximum: 65535, default: 60 },
        sessionExpiryInterval: { type: "integer", minimum: 0, maximum: 4294967295, default: 604800 },
        reconnectPeriod: { type: "integer", minimum: 100, default: 1000 },
        reconnectPeriodMax: { type: "integer", minimum: 100, default: 30000 },
        connectTimeout: { type: "integer", minimum: 1000, default: 30000 },
        username: { type: "string", default: "" },
        password: { type: "string", default: "" },
        subscriptions: {
          type: "array",
          minItems: 1,
          default: [
            { topic: "11/#", qos: 1 },
            { topic: "21/#", qos: 1 },
            { topic: "48/#", qos: 1 },
          ],
          items: {
            type: "object",
            additionalProperties: false,
            required: ["topic"],
            properties: {
              topic: { type: "string", minLength: 1 },
              qos: { enum: [0, 1, 2], default: 1 },
            },
          },
        },
      },
    },
    opcua: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        hostname: { type: "string", default: "" },
        port: { type: "integer", minimum: 0, maximum: 65535, default: 4840 },
        resourcePath: { type: "string", pattern: "^(/[A-Za-z0-9._-]+)*$", default: "/UA/SmartGear" },
        applicationName: { type: "string", minLength: 1, default: "Sm@rtGear Gateway" },
        namespaceUri: { type: "string", minLength: 1, default: "urn:smartgear-gateway:devices" },
        pkiFolder: { type: "string", minLength: 1, default: "data/pki" },
        allowAnonymous: { type: "boolean", default: true },
        securityPolicies: {
          type: "array",
          minItems: 1,
          uniqueItems: true,
          items: { enum: ["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"] },
          default: ["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"],
        },
      },
    },
    mapping: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        maxDevices: { type: "integer", minimum: 1, default: 1000 },
        maxPayloadBytes: { type: "integer", minimum: 16, default: 65536 },
        staleAfter: {
          type: "object",
          additionalProperties: false,
          default: {},
          properties: {
            default: { ...seconds, default: 0 },
            families: {
              type: "object",
              propertyNames: { pattern: "^[0-9]+$" },
              additionalProperties: seconds,
              default: {},
            },
            points: {
              type: "object",
              propertyNames: { pattern: "^[0-9]+/[0-9]+$" },
              additionalProperties: seconds,
              default: {},
            },
          },
        },
        unmapped: {
          type: "object",
          additionalProperties: false,
          default: {},
          properties: {
            expose: { type: "boolean", default: false },
            max: { type: "integer", minimum: 0, default: 1000 },
          },
        },
      },
    },
    devices: {
      type: "array",
      default: [],
      items: {
        type: "object",
        additionalProperties: false,
        required: ["type", "name", "source"],
        properties: { type: topicLevel, name: topicLevel, source: topicLevel },
      },
    },
  },
} as const;
