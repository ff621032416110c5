import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Namespace, OPCUAServer } from "node-opcua";
import { CommandDispatcher } from "../bridge/command-dispatcher.js";
import { PointMirror } from "../bridge/point-mirror.js";
import type { GatewayConfig } from "../config/config-types.js";
import { HistoryStore } from "../history/history-store.js";
import { HealthServer, type Readiness } from "../http/health-server.js";
import { GatewayMetrics } from "../http/metrics.js";
import { IngestCounters } from "../mapping/counters.js";
import { StatusTopics } from "../mapping/device-status-topic.js";
import type { Catalog } from "../model/catalog-types.js";
import type { CommandDef } from "../model/command-catalog.js";
import type { BrokerLink, SessionTakeover, SubscriptionState } from "../mqtt/broker-link.js";
import { EmbeddedBroker } from "../mqtt/embedded-broker.js";
import { IngestClient } from "../mqtt/ingest-client.js";
import { IngestThread } from "../mqtt/ingest-thread.js";
import { redactUrl } from "../mqtt/tls-options.js";
import { AlarmNodes } from "../opcua/alarm-nodes.js";
import { CommandNodes } from "../opcua/command-nodes.js";
import { DeviceHealth } from "../opcua/device-health.js";
import { DeviceNodes } from "../opcua/device-nodes.js";
import { DiagnosticsNodes } from "../opcua/diagnostics-nodes.js";
import { HistoryReadService } from "../opcua/history-read.js";
import { buildInformationModel, MODEL_NAMESPACE_URI } from "../opcua/information-model.js";
import { routeOpcuaLogs } from "../opcua/opcua-logs.js";
import { createOpcuaServer } from "../opcua/opcua-server.js";
import { installNodeOpcuaPatches } from "../opcua/patches/index.js";
import { preSessionClosures } from "../opcua/patches/pre-session-guard.js";
import { applyDefaultRolePermissions } from "../security/roles.js";
import type { UserDef } from "../security/users.js";
import { getLogger } from "../shared/logger.js";
import { PROJECT_ROOT } from "../shared/paths.js";

/** How long /readyz reports a session takeover after the last one. */
const TAKEOVER_SHOWN_MS = 10 * 60_000;

const VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as { version: string })
  .version;

/**
 * The composition root: builds the parts, starts them in order and stops them in reverse.
 * The constructor only assigns; nothing opens a socket before start().
 */
export class Gateway {
  readonly counters = new IngestCounters();
  private readonly logger = getLogger("gateway");
  private server: OPCUAServer | null = null;
  private source: BrokerLink | null = null;
  private mirror: PointMirror | null = null;
  private history: HistoryStore | null = null;

  private dispatcher: CommandDispatcher | null = null;
  private metrics: GatewayMetrics | null = null;
  private http: HealthServer | null = null;
  private opcuaListening = false;
  private health: DeviceHealth | null = null;
  /** The broker's last answer to the subscriptions, for /readyz and /metrics. */
  private subscriptions: SubscriptionState = { granted: [], refused: [] };
  private lastTakeover: (SessionTakeover & { at: number }) | null = null;

  constructor(
    readonly config: GatewayConfig,
    readonly catalog: Catalog,
    readonly users: readonly UserDef[] = [],
    readonly commands: readonly CommandDef[] = [],
  ) {}

  async start(): Promise<void> {
    const started = performance.now();
    // First: /healthz answers and /readyz says what is not ready yet while the rest starts.
    await this.startHttp();
    routeOpcuaLogs(getLogger("gateway:node-opcua"));
    // Refuses a node-opcua release the patches were not written for, before anything is built on it.
    installNodeOpcuaPatches(this.config.opcua.limits, getLogger("gateway:opcua"));
    const server = createOpcuaServer(this.config, VERSION, this.users, getLogger("gateway:opcua"));
    this.server = server;
    await server.initialize();

    const addressSpace = server.engine.addressSpace!;
    // node-opcua would expose each node created from here on (device objects, folders, methods,
    // conditions) as a JavaScript property of its parent, through an accessor closure per node
    // whose name it has not met before; nothing reads them. Names of the standard nodeset and the
    // catalog's keep their shared accessors (DeviceNodes).
    addressSpace.isFrugal = true;
    // The devices namespace first, so that it is ns=2 on every start (ns=1 is the server's own).
    const ns = addressSpace.registerNamespace(this.config.opcua.namespaceUri);
    const modelNs = addressSpace.registerNamespace(MODEL_NAMESPACE_URI);
    const model = buildInformationModel(modelNs, this.catalog);
    const smartGear = ns.addFolder(addressSpace.rootFolder.objects, {
      nodeId: "s=SmartGear",
      browseName: "SmartGear",
    });
    const devicesFolder = ns.addFolder(smartGear, { nodeId: "s=Devices", browseName: "Devices" });
    applyDefaultRolePermissions(addressSpace, this.config.opcua.allowAnonymous);

    // Devices' status topics are subscribed beside the data topics.
    const statusTopics = this.config.mapping.statusTopic
      ? new StatusTopics(this.config.mapping.statusTopic)
      : null;
    const sourceConfig = statusTopics
      ? {
          ...this.config,
          mqtt: {
            ...this.config.mqtt,
            subscriptions: [
              ...this.config.mqtt.subscriptions,
              { topic: statusTopics.filter, qos: 1 as const },
            ],
          },
        }
      : this.config;
    const source: BrokerLink = !this.config.mqtt.url
      ? new EmbeddedBroker(sourceConfig, getLogger("gateway:broker"), this.counters)
      : this.config.mqtt.ingestThread
        ? new IngestThread(sourceConfig, getLogger("gateway:mqtt"))
        : new IngestClient(sourceConfig, getLogger("gateway:mqtt"));
    this.source = source;
    const dispatcher = new CommandDispatcher(
      source,
      getLogger("gateway:opcuaToMqtt"),
      getLogger("gateway:audit"),
      (latencyMs, outcome) => this.metrics?.observeCommand(latencyMs, outcome),
    );
    this.dispatcher = dispatcher;
    const commandNodes = new CommandNodes(ns, this.commands, dispatcher, this.config.opcua.allowAnonymous);
    const acknowledgements = new Map(
      this.commands.filter((c) => c.acknowledgeOf).map((c) => [c.acknowledgeOf!, c]),
    );
    const alarmNodes = new AlarmNodes(
      ns as Namespace,
      getLogger("gateway:opcua:alarms"),
      (point, device, state, comment) => {
        const command = acknowledgements.get(point.topicId);
        // node-opcua has let only a caller with Call permission (Operator and above) acknowledge;
        // its event does not say who, so the audit line names the OPC UA method instead.
        if (command)
          void dispatcher.call(command, device, [state, comment], {
            user: "(OPC UA Acknowledge/Confirm)",
            session: "",
            roles: ["Operator"],
            secure: true,
          });
      },
    );
    alarmNodes.install();
    const limits = new Map(this.config.alarms.limits.map((l) => [l.point, l]));
    // History (README, History): the store records what the mirror writes; HistoryRead reads it.
    const store = this.config.history.enabled
      ? new HistoryStore(this.config.history, getLogger("gateway:history"))
      : null;
    const history = store?.start() ? store : null;
    this.history = history;
    const historyRead = history && new HistoryReadService(history, getLogger("gateway:history"));
    if (historyRead) server.on("session_closed", (session) => historyRead.release(session));
    const nodes = new DeviceNodes(ns, modelNs, model, devicesFolder, this.catalog, {
      folderCreated: (node, path, folder, device) => commandNodes.add(node, path, folder, device),
      variableCreated: (variable, point, device, deviceNode) => {
        commandNodes.bindWrite(variable, point.topicId, device);
        historyRead?.install(variable);
        if (point.alarm) alarmNodes.watch(variable, point, device, deviceNode);
        const limit = limits.get(point.topicId);
        if (limit) alarmNodes.watchLimit(variable, point, device, deviceNode, limit);
      },
    });

    const diagnostics = new DiagnosticsNodes(ns, smartGear, {
      counters: this.counters,
      commands: dispatcher.counters,
      brokerConnected: () => source.connected,
      brokerProtocol: () => source.protocol,
      deviceCount: () => this.mirror?.deviceCount ?? 0,
      pointCount: () => this.mirror?.pointCount ?? 0,
    });
    diagnostics.build();

    const health = new DeviceHealth(ns, this.config.mapping.offlineAfter * 1000, getLogger("gateway:health"));
    this.health = health;
    const mirror = new PointMirror(
      this.config,
      this.catalog,
      nodes,
      this.counters,
      getLogger("gateway:mqttToOpcua"),
      (device) => {
        diagnostics.addDevice(device);
        health.add(device);
      },
      statusTopics && {
        topics: statusTopics,
        reported: (device, online, now) => health.report(device, online, now),
      },
      history,
    );
    this.mirror = mirror;
    mirror.start();
    health.start();

    let everConnected = false;
    await source.start({
      message: (topic, payload) => mirror.handle(topic, payload),
      reply: (topic, payload, correlationData) => dispatcher.handleReply(topic, payload, correlationData),
      connected: () => {
        if (everConnected) this.counters.brokerReconnects++;
        everConnected = true;
        mirror.connectionRestored();
      },
      disconnected: (reason) => {
        this.logger.warn("broker connection lost; mirrored points turn uncertain", { reason });
        mirror.connectionLost();
      },
      subscriptions: (state) => {
        // Every refused filter is asked again in each SUBACK: each answer refuses them all anew.
        this.counters.subscriptionRefusals += state.refused.length;
        this.subscriptions = state;
        mirror.subscriptionsChanged(state);
      },
      sessionTakenOver: (takeover) => {
        this.counters.sessionTakeovers++;
        this.lastTakeover = { ...takeover, at: Date.now() };
      },
    });
    // Not connected after the first attempt: the points say so until the broker answers.
    if (!source.connected) mirror.connectionLost();

    await server.start();
    this.opcuaListening = true;
    this.logger.info("gateway started", {
      endpoint: this.endpointUrl,
      broker: redactUrl(this.config.mqtt.url) || `embedded, port ${this.brokerPort}`,
      points: mirror.pointCount,
      devices: mirror.deviceCount,
      startupMs: Math.round(performance.now() - started),
    });
  }

  /** OPC UA sessions are closed; the MQTT session is left to the broker for the next start. */
  async stop(): Promise<void> {
    const { server, source, mirror, dispatcher, http } = this;
    this.opcuaListening = false;
    this.http = null;
    this.server = null;
    this.source = null;
    this.mirror = null;
    this.dispatcher = null;
    dispatcher?.stop();
    this.health?.stop();
    await source?.stop();
    mirror?.stop();
    if (server) await server.shutdown(1000);
    await this.history?.stop();
    this.history = null;
    await http?.stop();
    this.logger.info("gateway stopped");
  }

  get endpointUrl(): string {
    return this.server?.getEndpointUrl() ?? "";
  }

  /** The embedded broker's port (useful with broker.port 0), or 0 with an external broker. */
  get brokerPort(): number {
    return this.source instanceof EmbeddedBroker ? this.source.port : 0;
  }

  get ingest(): PointMirror | null {
    return this.mirror;
  }

  /** The port of /healthz, /readyz and /metrics (useful with http.port 0); 0 when disabled. */
  get httpPort(): number {
    return this.http?.port ?? 0;
  }

  /**
   * Ready: the broker is connected and the OPC UA server listens. Degraded (still ready) while the
   * broker refuses a subscription, or within TAKEOVER_SHOWN_MS of a session takeover.
   */
  readiness(): Readiness {
    const { refused } = this.subscriptions;
    const takeover =
      this.lastTakeover && Date.now() - this.lastTakeover.at < TAKEOVER_SHOWN_MS ? this.lastTakeover : null;
    const degraded = {
      ...(refused.length > 0 ? { refusedSubscriptions: refused } : {}),
      ...(takeover
        ? {
            sessionTakenOver: {
              clientId: takeover.clientId,
              evidence: takeover.evidence,
              at: new Date(takeover.at).toISOString(),
              total: this.counters.sessionTakeovers,
            },
          }
        : {}),
    };
    return {
      broker: this.source?.connected ?? false,
      opcua: this.opcuaListening,
      ...(Object.keys(degraded).length > 0 ? { degraded } : {}),
    };
  }

  private async startHttp(): Promise<void> {
    if (!this.config.http.enabled) return;
    const metrics = new GatewayMetrics({
      counters: this.counters,
      commands: () => this.dispatcher?.counters ?? null,
      brokerConnected: () => this.source?.connected ?? false,
      refusedSubscriptions: () => this.subscriptions.refused.length,
      deviceCount: () => this.mirror?.deviceCount ?? 0,
      pointCount: () => this.mirror?.pointCount ?? 0,
      opcua: () => ({
        sessions: this.server?.currentSessionCount ?? 0,
        subscriptions: this.server?.currentSubscriptionCount ?? 0,
        channels: this.server?.currentChannelCount ?? 0,
        rejectedSessions: this.server?.rejectedSessionCount ?? 0,
        preSessionClosed: preSessionClosures,
      }),
      history: () => this.history?.counters ?? null,
    });
    metrics.collectProcessMetrics();
    this.metrics = metrics;
    this.http = new HealthServer(
      this.config.http,
      { readiness: () => this.readiness(), metrics: () => metrics.scrape() },
      getLogger("gateway:http"),
    );
    await this.http.start();
  }
}
