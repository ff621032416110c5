import { hostname } from "node:os";
import { defaultClientId } from "./client-id.js";

/**
 * JSON Schema of the gateway configuration. Every key has a default, so an empty file is a valid
 * configuration (embedded broker, OPC UA on 4840). Every leaf can be overridden from the
 * environment by its key path: opcua.port ⇒ SMARTGEAR_OPCUA_PORT, mqtt.clientId ⇒ SMARTGEAR_MQTT_CLIENT_ID.
 */
const topicLevel = { type: "string", minLength: 1, pattern: "^[^/+#]+$" } as const;
const seconds = { type: "number", minimum: 0 } as const;
/** A file read once at start, relative to the working directory; empty: none. */
const file = { type: "string", default: "" } as const;
const tlsVersion = { enum: ["TLSv1.3", "TLSv1.2"], default: "TLSv1.3" } as const;
const topicFilters = { type: "array", items: { type: "string", minLength: 1 }, default: [] } as const;
const logLevel = { enum: ["error", "warn", "info", "debug"] } as const;
/** How history records a point (README, History: what is recorded): all, change, off, deadband 0.5, deadband 1%. */
const recording = {
  type: "string",
  pattern: "^(all|change|off|deadband (0|[1-9][0-9]*)(\\.[0-9]+)?%?)$",
} as const;

/**
 * A setting with a default and overrides per family (`{ "21": … }`) and per point (`{ "11/5": … }`),
 * as staleAfter and history.record take it; `more`: further overrides of its own.
 */
function perFamilyAndPoint<V extends object, D, M extends object = object>(value: V, byDefault: D, more?: M) {
  return {
    type: "object",
    additionalProperties: false,
    default: {},
    properties: {
      default: { ...value, default: byDefault },
      families: {
        type: "object",
        propertyNames: { pattern: "^[0-9]+$" },
        additionalProperties: value,
        default: {},
      },
      points: {
        type: "object",
        propertyNames: { pattern: "^[0-9]+/[0-9]+$" },
        additionalProperties: value,
        default: {},
      },
      ...more,
    },
  } as const;
}

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
        level: { ...logLevel, default: "info" },
        format: { enum: ["auto", "json", "pretty"], default: "auto" },
        // Per component: a component without a level takes its nearest configured ancestor's.
        levels: {
          type: "object",
          propertyNames: { pattern: "^[A-Za-z0-9_-]+(:[A-Za-z0-9_-]+)*$" },
          additionalProperties: logLevel,
          default: {},
        },
      },
    },
    http: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: "boolean", default: true },
        // Loopback by default: the container image sets SMARTGEAR_HTTP_HOST=0.0.0.0.
        host: { type: "string", minLength: 1, default: "127.0.0.1" },
        port: { type: "integer", minimum: 0, maximum: 65535, default: 9102 },
        // The web console (README, Web console) on the same listener.
        console: {
          type: "object",
          additionalProperties: false,
          default: {},
          properties: {
            enabled: { type: "boolean", default: true },
            // HTTPS for the whole listener: the OPC UA server's own certificate unless files are named.
            tls: {
              type: "object",
              additionalProperties: false,
              default: {},
              properties: { enabled: { type: "boolean", default: false }, certFile: file, keyFile: file },
            },
            // A non-loopback host without TLS serves no console unless this says a proxy encrypts.
            allowPlainHttp: { type: "boolean", default: false },
            sessionIdleMinutes: { type: "number", exclusiveMinimum: 0, default: 30 },
            loginAttemptsPerMinute: { type: "integer", minimum: 1, default: 5 },
          },
        },
      },
    },
    broker: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "integer", minimum: 0, maximum: 65535, default: 1883 },
        plainListener: { type: "boolean", default: true },
        tls: {
          type: "object",
          additionalProperties: false,
          default: {},
          properties: {
            enabled: { type: "boolean", default: false },
            port: { type: "integer", minimum: 0, maximum: 65535, default: 8883 },
            minVersion: tlsVersion,
            certFile: file,
            keyFile: file,
            caFile: file,
            requireClientCertificate: { type: "boolean", default: false },
          },
        },
        users: {
          type: "array",
          default: [],
          items: {
            type: "object",
            additionalProperties: false,
            required: ["username", "passwordHash"],
            properties: {
              username: { type: "string", minLength: 1 },
              passwordHash: { type: "string", minLength: 1 },
            },
          },
        },
        acl: {
          type: "object",
          default: {},
          additionalProperties: {
            type: "object",
            additionalProperties: false,
            properties: { publish: topicFilters, subscribe: topicFilters },
          },
        },
        // Bounds against hostile clients (README, Security); defaults sized for an Industrial Edge device.
        allowAnonymousOnNetwork: { type: "boolean", default: false },
        maxPacketSize: { type: "integer", minimum: 64, maximum: 268435460, default: 131072 },
        maxConnections: { type: "integer", minimum: 1, default: 256 },
        maxUnauthenticatedConnections: { type: "integer", minimum: 1, default: 32 },
        connectTimeout: { type: "integer", minimum: 1000, default: 5000 },
        retained: {
          type: "object",
          additionalProperties: false,
          default: {},
          properties: {
            maxMessages: { type: "integer", minimum: 0, default: 20000 },
            maxBytes: { type: "integer", minimum: 0, default: 33554432 },
            maxMessagesPerClient: { type: "integer", minimum: 0, default: 10000 },
            maxBytesPerClient: { type: "integer", minimum: 0, default: 16777216 },
          },
        },
      },
    },
    mqtt: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        url: { type: "string", pattern: "^$|^(mqtt|mqtts|tcp|tls|ws|wss)://", default: "" },
        clientId: { type: "string", minLength: 1, maxLength: 65535, default: defaultClientId(hostname()) },
        protocolVersion: { enum: [4, 5], default: 5 },
        keepalive: { type: "integer", minimum: 0, maximum: 65535, default: 60 },
        sessionExpiryInterval: { type: "integer", minimum: 0, maximum: 4294967295, default: 604800 },
        reconnectPeriod: { type: "integer", minimum: 100, default: 1000 },
        reconnectPeriodMax: { type: "integer", minimum: 100, default: 30000 },
        connectTimeout: { type: "integer", minimum: 1000, default: 30000 },
        storeFolder: { type: "string", default: "data/mqtt-store" },
        username: { type: "string", default: "" },
        password: { type: "string", default: "" },
        passwordFile: file,
        tls: {
          type: "object",
          additionalProperties: false,
          default: {},
          properties: {
            minVersion: tlsVersion,
            caFile: file,
            certFile: file,
            keyFile: file,
            keyPassphrase: { type: "string", default: "" },
            keyPassphraseFile: file,
            serverName: { type: "string", default: "" },
            rejectUnauthorized: { type: "boolean", default: true },
          },
        },
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
        ingestThread: { type: "boolean", default: true },
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
        // Empty: node-opcua's urn:<hostname>:NodeOPCUA-Server. Members of a redundant set each need their own.
        applicationUri: { type: "string", default: "" },
        namespaceUri: { type: "string", minLength: 1, default: "urn:smartgear-gateway:devices" },
        alternateHostnames: { type: "array", items: { type: "string", minLength: 1 }, default: [] },
        advertiseAddresses: { type: "boolean", default: true },
        // Registration with a Local Discovery Server (Part 12 4.3), so that a SCADA finds every shard there.
        discovery: {
          type: "object",
          additionalProperties: false,
          default: {},
          properties: {
            register: { type: "boolean", default: false },
            url: { type: "string", pattern: "^opc\\.tcp://", default: "opc.tcp://localhost:4840" },
          },
        },
        pkiFolder: { type: "string", minLength: 1, default: "data/pki" },
        usersFile: { type: "string", default: "" },
        allowAnonymous: { type: "boolean", default: false },
        securityPolicies: {
          type: "array",
          minItems: 1,
          uniqueItems: true,
          items: { enum: ["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"] },
          default: ["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"],
        },
        limits: {
          type: "object",
          additionalProperties: false,
          default: {},
          properties: {
            maxSessions: { type: "integer", minimum: 1, default: 50 },
            maxConnectionsPerEndpoint: { type: "integer", minimum: 1, default: 50 },
            maxSubscriptionsPerSession: { type: "integer", minimum: 1, default: 20 },
            maxMonitoredItems: { type: "integer", minimum: 1, default: 25000 },
            maxMonitoredItemsPerSubscription: { type: "integer", minimum: 1, default: 25000 },
            maxNodesPerRead: { type: "integer", minimum: 1, default: 10000 },
            maxNodesPerWrite: { type: "integer", minimum: 1, default: 1000 },
            maxNodesPerBrowse: { type: "integer", minimum: 1, default: 5000 },
            maxNodesPerMethodCall: { type: "integer", minimum: 1, default: 100 },
            maxNodesPerTranslateBrowsePathsToNodeIds: { type: "integer", minimum: 1, default: 1000 },
            maxMessageSize: { type: "integer", minimum: 65536, default: 16777216 },
            maxMonitoredItemQueueSize: { type: "integer", minimum: 1, maximum: 5000, default: 10 },
            maxEventQueueSize: { type: "integer", minimum: 1, maximum: 5000, default: 1000 },
            maxNotificationsPerPublish: { type: "integer", minimum: 1, default: 10000 },
            preSessionTimeout: { type: "number", exclusiveMinimum: 0, default: 10 },
            maxPreSessionBytes: { type: "integer", minimum: 8192, default: 65536 },
          },
        },
      },
    },
    mapping: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        maxDevices: { type: "integer", minimum: 1, default: 1000 },
        offlineAfter: { type: "number", minimum: 0, default: 300 },
        statusTopic: { type: "string", pattern: "^$|^[^+#]+$", default: "" },
        maxPayloadBytes: { type: "integer", minimum: 16, default: 65536 },
        staleAfter: perFamilyAndPoint(seconds, 0),
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
    history: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: "boolean", default: true },
        folder: { type: "string", minLength: 1, default: "data/history" },
        flushInterval: { type: "number", minimum: 0.05, maximum: 60, default: 1 },
        maxBacklog: { type: "integer", minimum: 1000, default: 500000 },
        retentionDays: { type: "number", exclusiveMinimum: 0, default: 30 },
        maxBytes: { type: "integer", minimum: 1048576, default: 2147483648 },
        // 0: as history.retentionDays (a default cannot name another key's value).
        forgetAfterDays: { type: "number", minimum: 0, default: 0 },
        maxProcessedValues: { type: "integer", minimum: 1, maximum: 100000, default: 10000 },
        diskFullRetry: { type: "number", minimum: 0.1, maximum: 3600, default: 10 },
        record: perFamilyAndPoint(recording, "all", {
          // MQTT topic filters (checked in check-against-catalog.ts, with the filter named).
          topics: { type: "object", additionalProperties: recording, default: {} },
        }),
        // README, History: PostgreSQL. The local store buffers; the history thread ships to it.
        postgres: {
          type: "object",
          additionalProperties: false,
          default: {},
          properties: {
            enabled: { type: "boolean", default: false },
            host: { type: "string", minLength: 1, default: "localhost" },
            port: { type: "integer", minimum: 1, maximum: 65535, default: 5432 },
            database: { type: "string", minLength: 1, default: "smartgear" },
            user: { type: "string", minLength: 1, default: "smartgear" },
            password: { type: "string", default: "" },
            passwordFile: file,
            tls: {
              type: "object",
              additionalProperties: false,
              default: {},
              properties: {
                enabled: { type: "boolean", default: false },
                caFile: file,
                certFile: file,
                keyFile: file,
                rejectUnauthorized: { type: "boolean", default: true },
              },
            },
            // Unquoted in SQL, so a plain identifier.
            schema: { type: "string", pattern: "^[a-z_][a-z0-9_]{0,62}$", default: "smartgear" },
            // Rows are keyed by gateway and point: several gateways share one database.
            gateway: { type: "string", minLength: 1, default: hostname() },
            batchSize: { type: "integer", minimum: 100, maximum: 1000000, default: 20000 },
            maxBacklog: { type: "integer", minimum: 1000, default: 20000000 },
            unreachableAfter: { type: "number", minimum: 0, default: 60 },
            queryTimeout: { type: "number", exclusiveMinimum: 0, default: 30 },
            // 0: rows are never removed by the gateway.
            retentionDays: { type: "number", minimum: 0, default: 0 },
            compressAfterDays: { type: "number", exclusiveMinimum: 0, default: 7 },
          },
        },
      },
    },
    alarms: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        limits: {
          type: "array",
          default: [],
          items: {
            type: "object",
            additionalProperties: false,
            required: ["point"],
            properties: {
              point: { type: "string", pattern: "^[0-9]+/[0-9]+$" },
              highHigh: { type: "number" },
              high: { type: "number" },
              low: { type: "number" },
              lowLow: { type: "number" },
              severity: { type: "integer", minimum: 1, maximum: 1000 },
            },
          },
        },
      },
    },
    commands: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        file: { type: "string", minLength: 1, default: "commands.yaml" },
        replyTopic: {
          type: "string",
          // No wildcards and no trailing `/`: the device's levels are appended to it.
          pattern: "^[^+#]*\\{clientId\\}([^+#]*[^+#/])?$",
          default: "reply/{clientId}",
        },
      },
    },
    // Non-transparent redundancy (README, Redundancy): ServerRedundancy and ServiceLevel.
    redundancy: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: "boolean", default: false },
        serverUris: {
          type: "array",
          items: { type: "string", minLength: 1 },
          uniqueItems: true,
          default: [],
        },
        preference: { type: "integer", minimum: 0, maximum: 55, default: 55 },
        healthyFreshShare: { type: "number", minimum: 0, maximum: 1, default: 0.9 },
        warmUp: { ...seconds, default: 10 },
        degradedBacklog: { type: "integer", minimum: 1, default: 4 },
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
