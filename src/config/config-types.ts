import type { RecordingRules } from "../mapping/history-recording.js";
import type { DeviceDeclaration } from "../model/device-identity.js";

export type TlsVersion = "TLSv1.3" | "TLSv1.2";

/** The gateway configuration after defaults and environment overrides (see config-schema.ts). */
export interface GatewayConfig {
  /** The data-model catalog, relative to the config file's folder; left out, the shipped one. */
  catalog: string;
  log: {
    level: "error" | "warn" | "info" | "debug";
    /** auto: JSON when stdout is not a terminal (containers), readable text on a terminal. */
    format: "auto" | "json" | "pretty";
    /** Per component (`gateway:mqtt`); a component without one takes its nearest ancestor's, else level. */
    levels: Record<string, "error" | "warn" | "info" | "debug">;
  };
  /** /healthz, /readyz and /metrics (Prometheus). */
  http: {
    enabled: boolean;
    /** 127.0.0.1 by default; the container image listens on all interfaces. */
    host: string;
    /** 0: any free port. */
    port: number;
    /** The web console on the same listener (README, Web console). */
    console: {
      enabled: boolean;
      /** HTTPS for the whole listener; empty files: the OPC UA server's own certificate and key. */
      tls: { enabled: boolean; certFile: string; keyFile: string };
      /** Serve the console over plain HTTP on a non-loopback host (a TLS proxy in front). */
      allowPlainHttp: boolean;
      /** A session not used for this long is logged out. */
      sessionIdleMinutes: number;
      /** Failed logins per client address and minute before further attempts get 429. */
      loginAttemptsPerMinute: number;
    };
  };
  broker: {
    /** The embedded aedes broker runs when mqtt.url is empty. */
    host: string;
    port: number;
    /** The plain-TCP listener on host:port; false with tls.enabled accepts TLS only. */
    plainListener: boolean;
    tls: {
      enabled: boolean;
      port: number;
      minVersion: TlsVersion;
      certFile: string;
      keyFile: string;
      /** CA that signs client certificates (requireClientCertificate). */
      caFile: string;
      requireClientCertificate: boolean;
    };
    /** With users, anonymous clients are refused; passwords only as hashPassword() hashes. */
    users: { username: string; passwordHash: string }[];
    /** Per user, the topic filters it may publish and subscribe to; empty: no ACL (all allowed). */
    acl: Record<string, { publish: string[]; subscribe: string[] }>;
    /** Without broker.users, listening beyond loopback is refused unless this says the risk is accepted. */
    allowAnonymousOnNetwork: boolean;
    /** Bytes; a larger packet closes its connection as soon as its fixed header arrives. */
    maxPacketSize: number;
    /** Client connections in all (plain and TLS); beyond, a new one is closed at once. */
    maxConnections: number;
    /** Connections that have not yet been accepted by a CONNACK. */
    maxUnauthenticatedConnections: number;
    /** Milliseconds from TCP (or TLS) connect to the CONNECT packet. */
    connectTimeout: number;
    /** Beyond these, a retained PUBLISH is delivered but not retained. */
    retained: {
      maxMessages: number;
      maxBytes: number;
      maxMessagesPerClient: number;
      maxBytesPerClient: number;
    };
  };
  mqtt: {
    /** mqtt://host:1883 or mqtts://host:8883; empty means the embedded broker. */
    url: string;
    clientId: string;
    /** 5 tries MQTT 5 first and falls back to 3.1.1 when the broker refuses it; 4 is 3.1.1 only. */
    protocolVersion: 4 | 5;
    keepalive: number;
    /** MQTT 5 session expiry in seconds: without it a v5 session does not persist. */
    sessionExpiryInterval: number;
    reconnectPeriod: number;
    reconnectPeriodMax: number;
    connectTimeout: number;
    /** Inbound QoS 2 state on disk (a folder per client id); empty: in memory, lost with a crash. */
    storeFolder: string;
    username: string;
    password: string;
    /** Read at start, trailing newline trimmed (Docker secrets); excludes password. */
    passwordFile: string;
    /** Used with mqtts://, tls:// and wss:// URLs; files relative to the working directory. */
    tls: {
      minVersion: TlsVersion;
      caFile: string;
      certFile: string;
      keyFile: string;
      keyPassphrase: string;
      keyPassphraseFile: string;
      /** The name the broker's certificate must carry (and SNI), when not the URL's host. */
      serverName: string;
      rejectUnauthorized: boolean;
    };
    subscriptions: { topic: string; qos: 0 | 1 | 2 }[];
    /** MQTT.js (reading, parsing, acknowledging) in a worker thread of its own; false: on the main thread. */
    ingestThread: boolean;
  };
  opcua: {
    /** The host name the endpoint advertises; empty means the machine's host name. */
    hostname: string;
    port: number;
    resourcePath: string;
    applicationName: string;
    /** The server's ApplicationUri (in its certificate); empty: node-opcua's urn:<hostname>:NodeOPCUA-Server. */
    applicationUri: string;
    /** Namespace of the mirrored devices: NodeId of topic T is ns=<index of this URI>;s=T. */
    namespaceUri: string;
    /** Extra host names and IP addresses for the certificate's subjectAltName (containers rename hosts). */
    alternateHostnames: string[];
    /** The endpoint is offered at the machine's IPv4 addresses too, so a client connecting by IP finds it. */
    advertiseAddresses: boolean;
    /** Registration with a Local Discovery Server (RegisterServer2, renewed every 8 minutes); off by default. */
    discovery: { register: boolean; url: string };
    /** The server's PKI (own, trusted, rejected, issuers); relative to the working directory. */
    pkiFolder: string;
    /** YAML file of users with salted password hashes and roles; empty: no users. */
    usersFile: string;
    /** Anonymous sessions, as read-only Observers. */
    allowAnonymous: boolean;
    /** Offered policies; None only when listed, and never for method calls or writes. */
    securityPolicies: ("None" | "Basic256Sha256" | "Aes128_Sha256_RsaOaep" | "Aes256_Sha256_RsaPss")[];
    limits: {
      maxSessions: number;
      maxConnectionsPerEndpoint: number;
      maxSubscriptionsPerSession: number;
      maxMonitoredItems: number;
      maxMonitoredItemsPerSubscription: number;
      maxNodesPerRead: number;
      maxNodesPerWrite: number;
      maxNodesPerBrowse: number;
      maxNodesPerMethodCall: number;
      maxNodesPerTranslateBrowsePathsToNodeIds: number;
      maxMessageSize: number;
      /** Values a monitored item may hold for a client that does not collect them. */
      maxMonitoredItemQueueSize: number;
      /** Events an event monitored item holds: a ConditionRefresh of every active alarm at once. */
      maxEventQueueSize: number;
      /** Notifications in one Publish response at most (fewer when the client asks, or bytes run out). */
      maxNotificationsPerPublish: number;
      /** Seconds from TCP connect to an activated session; a connection without one is then closed. */
      preSessionTimeout: number;
      /** Bytes a connection may send before its session is activated; beyond, it is closed. */
      maxPreSessionBytes: number;
    };
  };
  mapping: {
    /** Hard cap on devices (deviceType/deviceName/deviceSource triples); beyond it messages are dropped. */
    maxDevices: number;
    /** Seconds without a message before a device's Online turns false (with an event); 0: never. */
    offlineAfter: number;
    /** A device's status or last-will topic, e.g. status/{deviceType}/{deviceName}/{deviceSource}; empty: none. */
    statusTopic: string;
    maxPayloadBytes: number;
    /** Seconds without an update before a value turns UncertainLastUsableValue; 0 disables. */
    staleAfter: { default: number; families: Record<string, number>; points: Record<string, number> };
    /** Unknown ids in known families: counted and ignored, or exposed in an Unmapped folder. */
    unmapped: { expose: boolean; max: number };
  };
  /** The embedded history store (README, History). */
  history: {
    enabled: boolean;
    /** Relative to the working directory. */
    folder: string;
    /** Seconds between commits: what a killed gateway loses at most. */
    flushInterval: number;
    /** Values appended and not yet committed; beyond, new ones are dropped and counted. */
    maxBacklog: number;
    retentionDays: number;
    /** Bytes in use in the store; beyond, the oldest chunks go first. */
    maxBytes: number;
    /** Days without a fresh value after which a device is not restored at start; 0: retentionDays. */
    forgetAfterDays: number;
    /** Values (intervals, times) a processed or at-time HistoryRead returns a request; then a continuation point. */
    maxProcessedValues: number;
    /** Seconds values are dropped after a full disk before a commit tries it again. */
    diskFullRetry: number;
    /** What is recorded of each point: a point's own setting, else its family's, else the default. */
    record: RecordingRules;
    /** Values shipped from the local store to PostgreSQL (README, History: PostgreSQL). */
    postgres: {
      enabled: boolean;
      host: string;
      port: number;
      database: string;
      user: string;
      password: string;
      passwordFile: string;
      tls: {
        enabled: boolean;
        caFile: string;
        certFile: string;
        keyFile: string;
        rejectUnauthorized: boolean;
      };
      /** The PostgreSQL schema of the tables. */
      schema: string;
      /** This gateway's name in the shared tables. */
      gateway: string;
      /** Values per transaction. */
      batchSize: number;
      /** Values kept locally and not yet shipped; beyond, the oldest are dropped and counted. */
      maxBacklog: number;
      /** Seconds unreachable after which /readyz says history is degraded. */
      unreachableAfter: number;
      /** Seconds a statement may go unanswered (a half-open connection) before it fails and is retried. */
      queryTimeout: number;
      /** Days PostgreSQL keeps; 0: forever. */
      retentionDays: number;
      /** TimescaleDB only: chunks older than this are compressed. */
      compressAfterDays: number;
    };
  };
  alarms: {
    /** Limit alarms on analog points: ExclusiveLimitAlarm on every device's variable of the point. */
    limits: {
      point: string;
      highHigh?: number;
      high?: number;
      low?: number;
      lowLow?: number;
      severity?: number;
    }[];
  };
  commands: {
    /** The command catalog; a relative path is taken from the config file's folder. */
    file: string;
    /** Devices answer commands on <replyTopic>/<type>/<name>/<source>; {clientId} is the gateway's MQTT client id. */
    replyTopic: string;
  };
  /** Non-transparent redundancy (Part 4 6.6.2): what Server/ServerRedundancy and ServiceLevel say. */
  redundancy: {
    enabled: boolean;
    /** The set's ApplicationUris, this member's among them (Server/ServerRedundancy/ServerUriArray). */
    serverUris: string[];
    /** 0–55, added to 200 while healthy: the member with the highest is the clients' primary. */
    preference: number;
    /** Share of the points with a value that must be fresh for healthy (ServiceLevel ≥ 200). */
    healthyFreshShare: number;
    /** Seconds connected and subscribed before healthy: the broker's replay settles first. */
    warmUp: number;
    /** Ingest-thread batches waiting for the main thread from which the member is degraded. */
    degradedBacklog: number;
  };
  /** Devices whose points exist from start-up, BadWaitingForInitialData until data arrives. */
  devices: DeviceDeclaration[];
}
