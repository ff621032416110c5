import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Namespace, OPCUAServer, UAFolder, UAObject, UAObjectType } from "node-opcua";
import { alarmAcknowledgementRouter, SharedAcknowledgements } from "../bridge/alarm-acknowledgements.js";
import { CommandDispatcher } from "../bridge/command-dispatcher.js";
import { PointMirror } from "../bridge/point-mirror.js";
import { ServiceLevelMonitor } from "../bridge/service-level-monitor.js";
import type { GatewayConfig } from "../config/config-types.js";
import { HistoryStore, type RestoredPoint } from "../history/history-store.js";
import { consoleRefusal, WebConsole } from "../http/console.js";
import { HealthServer, type Readiness } from "../http/health-server.js";
import { GatewayMetrics } from "../http/metrics.js";
import { IngestCounters } from "../mapping/counters.js";
import { StatusTopics } from "../mapping/device-status-topic.js";
import { SERVICE_LEVEL } from "../mapping/service-level.js";
import type { Catalog } from "../model/catalog-types.js";
import type { CommandDef } from "../model/command-catalog-types.js";
import {
  type BrokerLink,
  KEEPALIVE_TIMEOUT,
  type SessionTakeover,
  type SourceHandlers,
  type SubscriptionState,
} from "../mqtt/broker-link.js";
import { createBrokerLink } from "../mqtt/broker-links.js";
import { EmbeddedBroker } from "../mqtt/embedded-broker.js";
import { redactUrl } from "../mqtt/tls-options.js";
import { AlarmNodes, conditionDeviceKey, type RestoredCondition } from "../opcua/alarm-nodes.js";
import { CommandNodes } from "../opcua/command-nodes.js";
import { DeviceHealth } from "../opcua/device-health.js";
import { deviceNodeHooks } from "../opcua/device-node-hooks.js";
import { DeviceNodes, deviceKeyOfNodeId } from "../opcua/device-nodes.js";
import { DiagnosticsNodes } from "../opcua/diagnostics-nodes.js";
import { EventJournal } from "../opcua/event-journal.js";
import { advertiseHistory, HistoryConfigurations } from "../opcua/history-nodes.js";
import { HistoryReadService } from "../opcua/history-read.js";
import {
  buildInformationModel,
  type InformationModel,
  MODEL_NAMESPACE_URI,
} from "../opcua/information-model.js";
import { createOpcuaServer } from "../opcua/opcua-server.js";
import { installNodeOpcuaPatches } from "../opcua/patches/index.js";
import { beforeNodeLookup } from "../opcua/patches/node-lookup.js";
import { routeOpcuaLogs } from "../opcua/patches/node-opcua-logs.js";
import { preSessionClosures } from "../opcua/patches/pre-session-guard.js";
import { bindServiceLevel, declareHotRedundancy } from "../opcua/patches/server-redundancy.js";
import { applyDefaultRolePermissions } from "../security/roles.js";
import type { UserDef } from "../security/users.js";
import { listenError } from "../shared/errors.js";
import { getLogger } from "../shared/logger.js";
import { PROJECT_ROOT } from "../shared/paths.js";
import { consoleSourcesOf } from "./console-view.js";
import { diagnosticsOf, type GatewayDiagnostics } from "./diagnostics-view.js";
import { EventHub } from "./events.js";

/** How long /readyz reports a session takeover after the last one. */
const TAKEOVER_SHOWN_MS = 10 * 60_000;

const VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as { version: string })
  .version;

/** One part of the gateway: started in order, stopped in reverse. */
interface Part {
  readonly name: string;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

/** The gateway's own namespaces and folders of the address space. */
interface AddressSpaceRoots {
  ns: Namespace;
  modelNs: Namespace;
  model: InformationModel;
  smartGear: UAObject;
  devicesFolder: UAObject;
}

/**
 * The composition root: builds the parts, starts them in order and stops them in reverse. The
 * constructor only assigns; nothing opens a socket before start(). The rules live in the parts;
 * discovery and lifecycle events go through one typed hub (events.ts), messages through plain calls.
 */
export class Gateway {
  readonly counters = new IngestCounters();
  private readonly logger = getLogger("gateway");
  private readonly events = new EventHub(getLogger("gateway:events"));
  /** The parts started so far, in start order. */
  private readonly started: Part[] = [];
  // Built by the address-space part, started by the parts after it.
  private server: OPCUAServer | null = null;
  private source: BrokerLink | null = null;
  private mirror: PointMirror | null = null;
  private history: HistoryStore | null = null;
  /** history.enabled, and the store could not be opened: /readyz says so. */
  private historyNotOpen = false;
  /** Read from the store by the history part, made into points by the point mirror's part. */
  /** Read by the history thread while the OPC UA server loads its nodeset; awaited by the point mirror. */
  private restored: Promise<RestoredPoint[]> = Promise.resolve([]);
  /** Conditions not back to normal, acknowledged and confirmed when the gateway stopped: brought back with their points. */
  private openConditions: RestoredCondition[] = [];
  private alarmNodes: AlarmNodes | null = null;
  /** The devices namespace (ns=2), whose lookups make restored devices not made yet (startMirror). */
  private devicesNamespace: Namespace | null = null;
  /** Removes that lookup hook: once every restored device is made, or at stop. */
  private releaseLookup: (() => void) | null = null;
  private dispatcher: CommandDispatcher | null = null;
  private health: DeviceHealth | null = null;
  private metrics: GatewayMetrics | null = null;
  private http: HealthServer | null = null;
  private opcuaListening = false;
  /** The broker's last answer to the subscriptions, for /readyz and /metrics. */
  private subscriptions: SubscriptionState = { granted: [], refused: [] };
  private lastTakeover: (SessionTakeover & { at: number }) | null = null;
  // What the web console reads (app/console-view.ts).
  private console: WebConsole | null = null;
  private startedAt = Date.now();
  private brokerSince: number | null = null;
  private consoleRoots: { devicesFolder: UAObject; deviceType: UAObjectType; alarms: AlarmNodes } | null =
    null;
  // Redundancy (README, Redundancy): ServiceLevel always; shared acknowledgements in a redundant set.
  private serviceLevel: ServiceLevelMonitor | null = null;
  private sharedAcks: SharedAcknowledgements | null = null;

  constructor(
    /** The running configuration: a frozen snapshot, replaced whole by a reload (adopt). */
    private running: GatewayConfig,
    readonly catalog: Catalog,
    readonly users: readonly UserDef[] = [],
    readonly commands: readonly CommandDef[] = [],
  ) {}

  get config(): GatewayConfig {
    return this.running;
  }

  /** A reload's new snapshot; each part has been handed the values it takes (app/reload.ts). */
  adopt(config: GatewayConfig): void {
    this.running = config;
  }

  async start(): Promise<void> {
    const began = performance.now();
    // Before any part: node-opcua, loaded with the gateway, prints some lines a moment later
    // ([NODE-OPCUA-W27]), plain text amid the JSON log after a part that failed early (issue 16).
    routeOpcuaLogs(getLogger("gateway:node-opcua"));
    this.startedAt = Date.now();
    const parts: Part[] = [
      // First: /healthz answers and /readyz says what is not ready yet while the rest starts.
      { name: "http", start: () => this.startHttp(), stop: () => this.stopHttp() },
      // Before the server: HistoryRead reads it until the server has closed its sessions.
      { name: "history", start: () => this.startHistory(), stop: () => this.stopHistory() },
      { name: "OPC UA server", start: () => this.initializeServer(), stop: () => this.shutdownServer() },
      // Devices, commands, alarms and diagnostics on the address space; the bridge built, not started.
      { name: "address space", start: () => this.buildAddressSpace(), stop: () => {} },
      { name: "point mirror", start: () => this.startMirror(), stop: () => this.stopMirror() },
      { name: "broker link", start: () => this.startBrokerLink(), stop: () => this.source?.stop() },
      { name: "device health", start: () => this.health!.start(), stop: () => this.health?.stop() },
      // Stopped before the broker link: calls still waiting are answered while the server can still reply.
      { name: "commands", start: () => {}, stop: () => this.dispatcher?.stop() },
      { name: "OPC UA endpoint", start: () => this.listen(), stop: () => this.stopListening() },
      // Last, so stopped first: ServiceLevel 0 (Maintenance) tells clients to go while they still can.
      {
        name: "service level",
        start: () => this.serviceLevel!.start(this.source!.connected),
        stop: () => this.serviceLevel?.stop(),
      },
    ];
    for (const part of parts) {
      // Listed before it starts: one that fails half-way may hold a socket already, and is stopped too.
      this.started.push(part);
      const at = performance.now();
      await part.start();
      this.logger.debug("part started", { part: part.name, ms: Math.round(performance.now() - at) });
    }
    this.history?.startUpkeep();
    this.makeRestoredDevices();
    this.logger.info("gateway started", {
      endpoint: this.endpointUrl,
      broker: redactUrl(this.config.mqtt.url) || `embedded, port ${this.brokerPort}`,
      points: this.mirror!.pointCount,
      devices: this.mirror!.deviceCount,
      startupMs: Math.round(performance.now() - began),
    });
  }

  /**
   * Stops the parts started, in reverse (also after a start that failed). OPC UA sessions
   * are closed; the MQTT session is left to the broker for the next start.
   */
  async stop(): Promise<void> {
    for (const part of this.started.splice(0).reverse()) await part.stop();
    this.source = null;
    this.mirror = null;
    this.dispatcher = null;
    this.health = null;
    this.consoleRoots = null;
    this.serviceLevel = null;
    this.sharedAcks = null;
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

  /** The gateway's figures, read-only (src/app/diagnostics-view.ts): what tests and scripts read of it. */
  diagnostics(): GatewayDiagnostics {
    const { counters, dispatcher, source, mirror, server } = this;
    return diagnosticsOf({ counters, commands: dispatcher?.counters ?? null, source, mirror, server });
  }

  /** The port of /healthz, /readyz and /metrics (useful with http.port 0); 0 when disabled. */
  get httpPort(): number {
    return this.http?.port ?? 0;
  }

  /**
   * Ready: the broker is connected and the OPC UA server listens. Degraded (still ready) while the
   * broker refuses a subscription, within TAKEOVER_SHOWN_MS of a session takeover, or while history
   * records less than it should (its store not open, writes failing, the disk full, a backlog,
   * PostgreSQL unreachable for longer than history.postgres.unreachableAfter).
   */
  readiness(): Readiness {
    const { refused } = this.subscriptions;
    const takeover =
      this.lastTakeover && Date.now() - this.lastTakeover.at < TAKEOVER_SHOWN_MS ? this.lastTakeover : null;
    const history = this.historyNotOpen ? { reason: "storeNotOpen" } : (this.history?.degradation() ?? null);
    const degraded = {
      ...(refused.length > 0 ? { refusedSubscriptions: refused } : {}),
      ...(history ? { history } : {}),
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
      serviceLevel: this.serviceLevel?.level ?? SERVICE_LEVEL.noData,
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
      eventListenerErrors: () => this.events.listenerErrors,
      opcua: () => ({
        sessions: this.server?.currentSessionCount ?? 0,
        subscriptions: this.server?.currentSubscriptionCount ?? 0,
        channels: this.server?.currentChannelCount ?? 0,
        rejectedSessions: this.server?.rejectedSessionCount ?? 0,
        preSessionClosed: preSessionClosures,
      }),
      history: () => this.history?.counters ?? null,
      consoleLogins: () => this.console?.auth.logins ?? null,
      redundancy: () => ({
        serviceLevel: this.serviceLevel?.level ?? SERVICE_LEVEL.noData,
        sharedAcknowledgements: this.sharedAcks?.counts ?? {},
      }),
    });
    metrics.collectProcessMetrics();
    this.metrics = metrics;
    this.console = this.webConsole();
    const { tls } = this.config.http.console;
    this.http = new HealthServer(
      this.config.http,
      { readiness: () => this.readiness(), metrics: () => metrics.scrape() },
      getLogger("gateway:http"),
      this.console,
    );
    await this.http.start();
    if (tls.enabled && tls.certFile)
      this.http.useCertificate(readFileSync(tls.certFile), readFileSync(tls.keyFile));
  }

  /** The web console (README, Web console), or null when it is off or refused on this listener. */
  private webConsole(): WebConsole | null {
    const http = this.config.http;
    const refusal = consoleRefusal(http);
    if (refusal) {
      if (http.console.enabled) this.logger.warn("the web console is not served", { reason: refusal });
      return null;
    }
    const sources = consoleSourcesOf({
      config: () => this.config,
      version: VERSION,
      startedAt: this.startedAt,
      counters: this.counters,
      source: () => this.source,
      pointCount: () => this.mirror?.pointCount ?? 0,
      brokerPort: () => this.brokerPort,
      brokerSince: () => this.brokerSince,
      server: () => this.server,
      addressSpace: () =>
        this.consoleRoots && { ...this.consoleRoots, conditions: this.consoleRoots.alarms.conditions },
    });
    return new WebConsole(http.console, this.users, sources, getLogger("gateway:console"));
  }

  private async stopHttp(): Promise<void> {
    const { http } = this;
    this.http = null;
    this.console = null;
    await http?.stop();
  }

  /** History (README, History): the store records what the mirror writes; HistoryRead reads it. */
  private startHistory(): void {
    if (!this.config.history.enabled) return;
    const store = new HistoryStore(this.config.history, getLogger("gateway:history"));
    // A store that cannot be opened leaves history off; the mirror goes on (logged by the store).
    // Its packing and retention wait for the end of start(), not to compete with it for the CPU.
    this.history = store.start(true) ? store : null;
    this.historyNotOpen = this.history === null;
    this.restored = this.history?.restorable() ?? Promise.resolve([]);
    this.openConditions = this.history?.openConditions() ?? [];
  }

  /**
   * Declared devices first (mapping.maxDevices keeps room for them), then those the store restores;
   * open conditions come back as their points are made (README, Alarms and device health). A
   * restored device without open conditions is made when first needed (a client names one of its
   * nodes, a message comes) or in the background once started (makeRestoredDevices): its nodes
   * answer every request as if made now, and the start does not wait for 100,000 variables.
   */
  private async startMirror(): Promise<void> {
    const mirror = this.mirror!;
    const restored = await this.restored;
    this.restored = Promise.resolve([]);
    // Before the declared devices are made: their conditions come back with them too.
    this.alarmNodes!.restoreAtStart(this.openConditions);
    mirror.start();
    if (restored.length > 0) {
      const at = performance.now();
      const devices = mirror.deviceCount;
      const needed = new Set(this.openConditions.map((c) => conditionDeviceKey(c.condition)));
      mirror.restore(restored, Date.now(), needed);
      if (mirror.pendingDevices > 0)
        this.releaseLookup = beforeNodeLookup(this.devicesNamespace!, (id) => {
          const key = deviceKeyOfNodeId(id);
          if (key !== null) mirror.makeRestored(key);
        });
      this.logger.info("devices restored from history", {
        points: restored.length,
        devices: mirror.deviceCount - devices,
        madeWhenNeeded: mirror.pendingDevices,
        openConditions: this.openConditions.length,
        ms: Math.round(performance.now() - at),
      });
    }
    this.alarmNodes!.restoreAtStart([]);
    this.openConditions = [];
  }

  /** Restored devices nobody has needed yet, made in the background after the start. */
  private makeRestoredDevices(): void {
    const mirror = this.mirror!;
    const devices = mirror.pendingDevices;
    if (devices === 0) return;
    const at = performance.now();
    mirror.makeRestoredInBackground(() => {
      this.releaseLookup?.();
      this.releaseLookup = null;
      this.logger.info("restored devices made", { devices, ms: Math.round(performance.now() - at) });
    });
  }

  private stopMirror(): void {
    this.mirror?.stop();
    this.releaseLookup?.();
    this.releaseLookup = null;
  }

  private async stopHistory(): Promise<void> {
    const { history } = this;
    this.history = null;
    await history?.stop();
  }

  /** HistoryRead on every mirrored variable, its continuation points released with their session. */
  private historyReadService(ns: Namespace, parent: UAFolder): HistoryReadService | null {
    if (!this.history) return null;
    advertiseHistory(this.server!);
    const service = new HistoryReadService(
      this.history,
      getLogger("gateway:history"),
      new HistoryConfigurations(ns, parent),
      this.config.history.maxProcessedValues,
      this.history,
    );
    this.server!.on("session_closed", (session) => service.release(session));
    // The Server object's event history is every event's (Part 11 5.3); a device's, its own.
    service.installEvents(this.server!.engine.addressSpace!.rootFolder.objects.server, null);
    return service;
  }

  private async initializeServer(): Promise<void> {
    // Refuses a node-opcua release the patches were not written for, before anything is built on it.
    installNodeOpcuaPatches(this.config.opcua.limits, getLogger("gateway:opcua"));
    this.server = createOpcuaServer(this.config, VERSION, this.users, getLogger("gateway:opcua"));
    await this.server.initialize();
    // HTTPS with the gateway's own certificate (http.console.tls without files): made by initialize().
    const { tls } = this.config.http.console;
    if (this.http && tls.enabled && !tls.certFile)
      this.http.useCertificate(
        readFileSync(this.server.certificateFile),
        readFileSync(this.server.privateKeyFile),
      );
  }

  private async shutdownServer(): Promise<void> {
    const { server } = this;
    this.server = null;
    await server?.shutdown(1000);
  }

  /** The gateway's namespaces and its SmartGear and Devices folders. */
  private addressSpaceRoots(): AddressSpaceRoots {
    const addressSpace = this.server!.engine.addressSpace!;
    // node-opcua would expose each node created from here on (device objects, folders, methods,
    // conditions) as a JavaScript property of its parent, through an accessor closure per node
    // whose name it has not met before; nothing reads them. Names of the standard nodeset and the
    // catalog's keep their shared accessors (DeviceNodes).
    addressSpace.isFrugal = true;
    // The devices namespace first, so that it is ns=2 on every start (ns=1 is the server's own).
    const ns = addressSpace.registerNamespace(this.config.opcua.namespaceUri) as Namespace;
    const modelNs = addressSpace.registerNamespace(MODEL_NAMESPACE_URI) as Namespace;
    const model = buildInformationModel(modelNs, this.catalog);
    const smartGear = ns.addFolder(addressSpace.rootFolder.objects, {
      nodeId: "s=SmartGear",
      browseName: "SmartGear",
    });
    const devicesFolder = ns.addFolder(smartGear, { nodeId: "s=Devices", browseName: "Devices" });
    applyDefaultRolePermissions(addressSpace, this.config.opcua.allowAnonymous);
    return { ns, modelNs, model, smartGear, devicesFolder };
  }

  /** Builds the OPC UA side of devices, commands, alarms and diagnostics, and the bridge to MQTT. */
  private buildAddressSpace(): void {
    const { ns, modelNs, model, smartGear, devicesFolder } = this.addressSpaceRoots();
    const config = this.config;
    // In a redundant set, every member applies the acknowledgements any member publishes; the
    // alarm nodes they apply to are built below, after the command path they publish through.
    let alarmNodes: AlarmNodes | null = null;
    const sharedAcks = config.redundancy.enabled
      ? new SharedAcknowledgements(this.commands, {
          applyShared: (...ack) => alarmNodes?.applyShared(...ack) ?? "noCondition",
        })
      : null;
    const source = createBrokerLink(config, this.counters, sharedAcks?.subscriptions);
    const dispatcher = new CommandDispatcher(
      source,
      getLogger("gateway:opcuaToMqtt"),
      getLogger("gateway:audit"),
      (latencyMs, outcome) => this.metrics?.observeCommand(latencyMs, outcome),
    );
    const commandNodes = new CommandNodes(ns, this.commands, dispatcher, config.opcua.allowAnonymous);
    const journal = this.recordEvents();
    alarmNodes = new AlarmNodes(
      ns,
      getLogger("gateway:opcua:alarms"),
      alarmAcknowledgementRouter(this.commands, dispatcher),
      (condition, eventId) => journal?.known(condition, eventId),
    );
    alarmNodes.install();
    this.alarmNodes = alarmNodes;
    this.devicesNamespace = ns;
    const nodes = new DeviceNodes(
      ns,
      modelNs,
      model,
      devicesFolder,
      this.catalog,
      deviceNodeHooks(commandNodes, alarmNodes, config.alarms.limits, this.historyReadService(ns, smartGear)),
    );
    const diagnostics = new DiagnosticsNodes(ns, smartGear, {
      counters: this.counters,
      commands: dispatcher.counters,
      brokerConnected: () => source.connected,
      brokerProtocol: () => source.protocol,
      deviceCount: () => this.mirror?.deviceCount ?? 0,
      pointCount: () => this.mirror?.pointCount ?? 0,
    });
    diagnostics.build();
    const health = new DeviceHealth(ns, config.mapping.offlineAfter * 1000, getLogger("gateway:health"));
    const { events } = this;
    const mirror = new PointMirror(
      config,
      this.catalog,
      nodes,
      this.counters,
      getLogger("gateway:mqttToOpcua"),
      (device) => events.emit("deviceAdded", device),
      config.mapping.statusTopic
        ? {
            topics: new StatusTopics(config.mapping.statusTopic),
            reported: (device, online, at) => events.emit("deviceReported", { device, online, at }),
          }
        : null,
      this.history,
      sharedAcks && ((topic, payload) => sharedAcks.take(topic, payload)),
    );
    this.serviceLevel = this.serviceLevelMonitor(mirror);
    this.sharedAcks = sharedAcks;
    this.source = source;
    this.dispatcher = dispatcher;
    this.mirror = mirror;
    this.health = health;
    this.consoleRoots = { devicesFolder, deviceType: model.deviceType, alarms: alarmNodes };
    this.listenToEvents(mirror, health, diagnostics);
  }

  /** The event journal (README, History: event history): every event the Server object sees, into the store. */
  private recordEvents(): EventJournal | null {
    if (!this.history) return null;
    const journal = new EventJournal(
      this.server!.engine.addressSpace!,
      this.history,
      getLogger("gateway:history"),
    );
    journal.start();
    return journal;
  }

  /**
   * ServiceLevel (Part 4 6.6.2.4.2) on Server/ServiceLevel, and in a redundant set ServerRedundancy
   * as a Hot NonTransparentRedundancyType naming the set (Part 5 6.3.9).
   */
  private serviceLevelMonitor(mirror: PointMirror): ServiceLevelMonitor {
    const addressSpace = this.server!.engine.addressSpace!;
    const { redundancy } = this.config;
    if (redundancy.enabled) declareHotRedundancy(addressSpace, redundancy.serverUris);
    return new ServiceLevelMonitor(
      redundancy,
      {
        freshness: () => mirror.freshness,
        backlogBatches: async () => (await this.diagnostics().threadBacklog())?.batchesInFlight ?? 0,
      },
      bindServiceLevel(addressSpace, SERVICE_LEVEL.noData),
      getLogger("gateway:redundancy"),
    );
  }

  /** Who hears of what: a line per part and event; the hub catches what a listener throws. */
  private listenToEvents(mirror: PointMirror, health: DeviceHealth, diagnostics: DiagnosticsNodes): void {
    const { events, counters } = this;
    events.on("deviceAdded", "diagnostics", (device) => diagnostics.addDevice(device));
    events.on("deviceAdded", "device health", (device) => health.add(device));
    events.on("deviceReported", "device health", (r) => health.report(r.device, r.online, r.at));
    events.on("brokerConnected", "counters", ({ reconnect, sessionLost }) => {
      if (reconnect) counters.brokerReconnects++;
      if (sessionLost) counters.sessionsNotResumed++;
    });
    events.on("brokerConnected", "point mirror", () => mirror.connectionRestored());
    events.on("brokerLost", "counters", ({ reason }) => {
      if (reason === KEEPALIVE_TIMEOUT) counters.keepaliveTimeouts++;
    });
    events.on("brokerLost", "gateway", ({ reason }) =>
      this.logger.warn("broker connection lost; mirrored points turn uncertain", { reason }),
    );
    events.on("brokerLost", "point mirror", () => mirror.connectionLost());
    events.on("brokerConnected", "console", () => {
      this.brokerSince = Date.now();
    });
    events.on("brokerLost", "console", () => {
      this.brokerSince = null;
    });
    // After the point mirror's: the fresh share it counts has dropped by now.
    const level = this.serviceLevel!;
    events.on("brokerConnected", "service level", () => level.brokerConnected());
    events.on("brokerLost", "service level", () => level.brokerLost());
    events.on("subscriptionsChanged", "readiness", (state) => {
      // Every refused filter is asked again in each SUBACK: each answer refuses them all anew.
      counters.subscriptionRefusals += state.refused.length;
      this.subscriptions = state;
    });
    events.on("subscriptionsChanged", "point mirror", (state) => mirror.subscriptionsChanged(state));
    events.on("sessionTakenOver", "readiness", (takeover) => {
      counters.sessionTakeovers++;
      this.lastTakeover = { ...takeover, at: Date.now() };
    });
  }

  private async startBrokerLink(): Promise<void> {
    const source = this.source!;
    const mirror = this.mirror!;
    await source.start(this.linkHandlers(mirror, this.dispatcher!));
    // Not connected after the first attempt: the points say so until the broker answers.
    if (!source.connected) mirror.connectionLost();
  }

  /** Messages and replies as plain calls (the per-message path); the rest as events on the hub. */
  private linkHandlers(mirror: PointMirror, dispatcher: CommandDispatcher): SourceHandlers {
    const { events } = this;
    let everConnected = false;
    return {
      message: (topic, payload) => mirror.handle(topic, payload),
      reply: (topic, payload, correlationData) => dispatcher.handleReply(topic, payload, correlationData),
      connected: (sessionLost) => {
        events.emit("brokerConnected", { reconnect: everConnected, sessionLost });
        everConnected = true;
      },
      disconnected: (reason) => events.emit("brokerLost", { reason }),
      subscriptions: (state) => events.emit("subscriptionsChanged", state),
      sessionTakenOver: (takeover) => events.emit("sessionTakenOver", takeover),
    };
  }

  private async listen(): Promise<void> {
    const { hostname, port } = this.config.opcua;
    await this.server!.start().catch((err: Error) => {
      throw listenError("opcua.port", hostname, port, err);
    });
    this.opcuaListening = true;
  }

  private stopListening(): void {
    this.opcuaListening = false;
  }
}
