import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import {
  BROKER_REFUSALS,
  type CommandCounters,
  type CommandOutcomeKind,
  DECODE_FAILURES,
  type HistoryCounters,
  type IngestCounters,
  REJECT_REASONS,
} from "../mapping/counters.js";

/** Where the figures come from; read at scrape time, so the message path pays nothing for metrics. */
export interface MetricSources {
  counters: IngestCounters;
  /** null before the gateway has started its command path. */
  commands: () => CommandCounters | null;
  brokerConnected: () => boolean;
  /** Topic filters the broker refuses now. */
  refusedSubscriptions: () => number;
  deviceCount: () => number;
  pointCount: () => number;
  /** Errors thrown by listeners of discovery and lifecycle events (caught, logged). */
  eventListenerErrors: () => number;
  /** OPC UA sessions, subscriptions and secure channels now open; 0 before the server exists. */
  opcua: () => {
    sessions: number;
    subscriptions: number;
    channels: number;
    rejectedSessions: number;
    /** Connections closed before an activated session, by reason (opcua.limits.preSessionTimeout, maxPreSessionBytes). */
    preSessionClosed: Readonly<Record<"timeout" | "bytes", number>>;
  };
  /** The history store's figures; null with history.enabled false. */
  history?: () => HistoryCounters | null;
  /** The web console's logins by outcome (ok, refused, rateLimited); null when it is not served. */
  consoleLogins?: () => Readonly<Record<string, number>> | null;
  /** Server/ServiceLevel now, and what became of acknowledgements seen on the broker (README, Redundancy). */
  redundancy?: () => { serviceLevel: number; sharedAcknowledgements: Readonly<Record<string, number>> };
}

const COMMAND_OUTCOMES: readonly CommandOutcomeKind[] = [
  "succeeded",
  "rejected",
  "noCommunication",
  "timedOut",
];

/**
 * The gateway's Prometheus metrics, in a registry of its own (several gateways in one process
 * each have theirs). Counters mirror the plain totals the gateway keeps anyway (collect() copies
 * them at scrape time); only the command latency histogram is fed per call, through the
 * CommandDispatcher hook.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly commandLatency: Histogram<"outcome">;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    const { counters } = sources;
    /** A counter whose value is copied from the gateway's own totals at each scrape. */
    const mirrored = <L extends string>(
      name: string,
      help: string,
      labelNames: readonly L[],
      values: () => Iterable<[Partial<Record<L, string>>, number]>,
    ) =>
      new Counter<L>({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const [labels, value] of values()) this.inc(labels, value);
        },
      });
    const gauge = (name: string, help: string, value: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(value());
        },
      });

    mirrored("smartgear_messages_received_total", "MQTT messages received", [], () => [
      [{}, counters.received],
    ]);
    mirrored(
      "smartgear_messages_decoded_total",
      "MQTT messages mirrored to their OPC UA variable",
      [],
      () => [[{}, counters.decoded]],
    );
    mirrored("smartgear_messages_rejected_total", "MQTT messages not mirrored, by reason", ["reason"], () =>
      REJECT_REASONS.map((reason) => [{ reason }, counters.rejectedBy.get(reason) ?? 0]),
    );
    mirrored(
      "smartgear_messages_total",
      'MQTT messages by topic family and outcome ("decoded" or "rejected")',
      ["family", "outcome"],
      function* () {
        for (const [family, c] of counters.byFamily) {
          yield [{ family, outcome: "decoded" }, c.decoded];
          yield [{ family, outcome: "rejected" }, c.rejected];
        }
      },
    );
    mirrored(
      "smartgear_decode_errors_total",
      "payloads that reached their point and could not be decoded (BadDecodingError)",
      [],
      () => [[{}, DECODE_FAILURES.reduce((sum, r) => sum + (counters.rejectedBy.get(r) ?? 0), 0)]],
    );
    mirrored("smartgear_unknown_topics_total", "distinct topics the catalog does not know", [], () => [
      [{}, counters.unknownTopics],
    ]);
    mirrored(
      "smartgear_broker_reconnects_total",
      "reconnections to the broker after a lost connection",
      [],
      () => [[{}, counters.brokerReconnects]],
    );
    mirrored(
      "smartgear_broker_refusals_total",
      "connections the embedded broker closed and retained messages it did not keep, by reason",
      ["reason"],
      () => BROKER_REFUSALS.map((reason) => [{ reason }, counters.brokerRefusals.get(reason) ?? 0]),
    );
    gauge("smartgear_broker_connected", "1 when connected to the broker", () =>
      sources.brokerConnected() ? 1 : 0,
    );
    gauge(
      "smartgear_mqtt_subscriptions_refused",
      "topic filters the broker refuses now (their points show BadConfigurationError)",
      sources.refusedSubscriptions,
    );
    mirrored(
      "smartgear_mqtt_subscription_refusals_total",
      "topic filters refused in a SUBACK (asked again at each connect)",
      [],
      () => [[{}, counters.subscriptionRefusals]],
    );
    mirrored(
      "smartgear_mqtt_session_takeovers_total",
      "times another MQTT client took over the gateway's session (its client id)",
      [],
      () => [[{}, counters.sessionTakeovers]],
    );
    mirrored(
      "smartgear_mqtt_keepalive_timeouts_total",
      "connections to the broker taken for lost after a keep-alive watchdog's silence (a dead route: no FIN, no RST)",
      [],
      () => [[{}, counters.keepaliveTimeouts]],
    );
    mirrored(
      "smartgear_mqtt_sessions_not_resumed_total",
      "connections on which the broker did not resume the gateway's MQTT session (what it held is lost)",
      [],
      () => [[{}, counters.sessionsNotResumed]],
    );
    gauge("smartgear_devices", "devices mirrored", sources.deviceCount);
    gauge("smartgear_points", "points mirrored (OPC UA variables)", sources.pointCount);
    gauge("smartgear_opcua_sessions", "OPC UA sessions open", () => sources.opcua().sessions);
    gauge(
      "smartgear_opcua_subscriptions",
      "OPC UA subscriptions of all sessions",
      () => sources.opcua().subscriptions,
    );
    gauge("smartgear_opcua_secure_channels", "OPC UA secure channels open", () => sources.opcua().channels);
    mirrored("smartgear_opcua_rejected_sessions_total", "OPC UA session activations refused", [], () => [
      [{}, sources.opcua().rejectedSessions],
    ]);
    mirrored(
      "smartgear_opcua_presession_closed_total",
      "OPC UA connections closed without an activated session, by reason (timeout or bytes)",
      ["reason"],
      () => Object.entries(sources.opcua().preSessionClosed).map(([reason, n]) => [{ reason }, n]),
    );
    mirrored("smartgear_commands_total", "OPC UA method calls and writes, by outcome", ["outcome"], () => {
      const c = sources.commands();
      return COMMAND_OUTCOMES.map((outcome) => [{ outcome }, c?.[outcome] ?? 0]);
    });
    mirrored(
      "smartgear_command_late_replies_total",
      "device answers that matched no waiting command",
      [],
      () => [[{}, sources.commands()?.lateReplies ?? 0]],
    );
    mirrored(
      "smartgear_command_refused_replies_total",
      "answers to a waiting command that came on another device's reply topic (refused)",
      [],
      () => [[{}, sources.commands()?.refusedReplies ?? 0]],
    );
    mirrored(
      "smartgear_event_listener_errors_total",
      "errors thrown by listeners of discovery and lifecycle events (caught and logged; a bug)",
      [],
      () => [[{}, sources.eventListenerErrors()]],
    );
    gauge(
      "smartgear_commands_unacknowledged",
      "commands published whose QoS handshake the broker has not completed (sent again with the session)",
      () => sources.commands()?.unacknowledged ?? 0,
    );
    const history = () => sources.history?.() ?? null;
    mirrored("smartgear_history_values_written_total", "values committed to the history store", [], () => [
      [{}, history()?.written ?? 0],
    ]);
    mirrored(
      "smartgear_history_values_dropped_total",
      "values removed from history (age, size: retention) or never stored (backlog, writeError, diskFull)",
      ["reason"],
      () => {
        const h = history();
        return [
          [{ reason: "age" }, h?.droppedByAge ?? 0],
          [{ reason: "size" }, h?.droppedBySize ?? 0],
          [{ reason: "backlog" }, h?.droppedByBacklog ?? 0],
          [{ reason: "writeError" }, h?.droppedByWriteError ?? 0],
          [{ reason: "diskFull" }, h?.droppedByDiskFull ?? 0],
        ];
      },
    );
    gauge(
      "smartgear_history_backlog",
      "values appended to history and not yet committed",
      () => history()?.backlog ?? 0,
    );
    gauge("smartgear_history_bytes", "bytes on disk of the history store", () => history()?.bytes ?? 0);
    const shipping = () => history()?.postgres ?? null;
    mirrored(
      "smartgear_history_postgres_values_shipped_total",
      "history values PostgreSQL committed",
      [],
      () => [[{}, shipping()?.shipped ?? 0]],
    );
    gauge(
      "smartgear_history_postgres_backlog",
      "history values committed locally and not yet shipped to PostgreSQL",
      () => shipping()?.backlog ?? 0,
    );
    gauge(
      "smartgear_history_postgres_last_success_seconds",
      "Unix time of the last batch PostgreSQL committed (0: none yet)",
      () => (shipping()?.lastSuccess ?? 0) / 1000,
    );
    mirrored(
      "smartgear_history_postgres_errors_total",
      "failures shipping history to PostgreSQL, by phase (connect, schema, ship)",
      ["kind"],
      () =>
        Object.entries(shipping()?.errors ?? { connect: 0, schema: 0, ship: 0 }).map(([kind, n]) => [
          { kind },
          n,
        ]),
    );
    mirrored(
      "smartgear_history_postgres_values_dropped_total",
      "history values never shipped: older than the retention (age), beyond the backlog bound, refused by PostgreSQL",
      ["reason"],
      () => {
        const p = shipping();
        return [
          [{ reason: "age" }, p?.droppedByAge ?? 0],
          [{ reason: "backlog" }, p?.droppedByBacklog ?? 0],
          [{ reason: "rejected" }, p?.droppedRejected ?? 0],
        ];
      },
    );
    mirrored(
      "smartgear_console_logins_total",
      "web console logins by outcome (ok, refused: wrong user name or password, rateLimited)",
      ["outcome"],
      () => Object.entries(sources.consoleLogins?.() ?? {}).map(([outcome, n]) => [{ outcome }, n]),
    );
    mirrored("smartgear_history_events_written_total", "events committed to the event journal", [], () => [
      [{}, history()?.eventsWritten ?? 0],
    ]);
    mirrored(
      "smartgear_history_events_dropped_total",
      "events removed from the event journal by retention (age, size)",
      ["reason"],
      () => [
        [{ reason: "age" }, history()?.eventsDroppedByAge ?? 0],
        [{ reason: "size" }, history()?.eventsDroppedBySize ?? 0],
      ],
    );
    const redundancy = () => sources.redundancy?.() ?? null;
    gauge(
      "smartgear_service_level",
      "Server/ServiceLevel: 0 maintenance, 1 no data, 2-199 degraded, 200-255 healthy",
      () => redundancy()?.serviceLevel ?? 1,
    );
    mirrored(
      "smartgear_alarm_acknowledgements_shared_total",
      "acknowledgements of a redundant set seen on the broker, by outcome (applied, unchanged, noCondition)",
      ["outcome"],
      () =>
        Object.entries(redundancy()?.sharedAcknowledgements ?? {}).map(([outcome, n]) => [{ outcome }, n]),
    );
    this.commandLatency = new Histogram({
      name: "smartgear_command_duration_seconds",
      help: "time from an OPC UA call to its answer (PUBCOMP, the device's reply, or the refusal), by outcome",
      labelNames: ["outcome"],
      // Refusals take microseconds, QoS 2 round trips milliseconds, device replies up to the timeout.
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
  }

  /** Node.js process metrics (memory, CPU, event loop lag): they start a timer, so not in the constructor. */
  collectProcessMetrics(): void {
    collectDefaultMetrics({ register: this.registry });
  }

  /** The CommandDispatcher hook: one observation per finished call. */
  observeCommand(latencyMs: number, outcome: CommandOutcomeKind): void {
    this.commandLatency.observe({ outcome }, latencyMs / 1000);
  }

  /** The exposition text and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
