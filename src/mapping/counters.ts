import type { DecodeFailure } from "./payload.js";

/** Why a message was not mirrored; each reason is a counter in diagnostics and metrics. */
export type RejectReason =
  | "malformedTopic"
  | "unknownFamily"
  | "unknownId"
  | "deviceLimit"
  | "payloadTooLarge"
  | "unmappedLimit"
  | DecodeFailure
  /** The gateway failed on the message (a bug): counted apart from bad input, logged as an error. */
  | "internalError";

/** The reasons of a payload that reached its point and could not be decoded (BadDecodingError). */
export const DECODE_FAILURES: readonly DecodeFailure[] = [
  "invalidUtf8",
  "empty",
  "invalidJson",
  "noValue",
  "badTimestamp",
  "badQuality",
  "typeMismatch",
  "outOfRange",
  "notFinite",
];

export const REJECT_REASONS: readonly RejectReason[] = [
  "malformedTopic",
  "unknownFamily",
  "unknownId",
  "deviceLimit",
  "payloadTooLarge",
  "unmappedLimit",
  ...DECODE_FAILURES,
  "internalError",
];

/** Why the embedded broker closed a connection or did not retain a message (README, Security). */
export type BrokerRefusal =
  | "packetTooLarge"
  | "invalidUtf8"
  | "tooManyConnections"
  | "tooManyUnauthenticated"
  | "connectTimeout"
  | "retainedLimit";

export const BROKER_REFUSALS: readonly BrokerRefusal[] = [
  "packetTooLarge",
  "invalidUtf8",
  "tooManyConnections",
  "tooManyUnauthenticated",
  "connectTimeout",
  "retainedLimit",
];

/** What became of one family's messages; decoded + rejected is what the family received. */
export interface FamilyCounts {
  decoded: number;
  rejected: number;
}

/** Distinct families counted apart; beyond, "other" (bogus topics must not grow metrics unbounded). */
const MAX_FAMILIES = 32;

/** The gateway's running totals; plain fields so the hot path pays one increment each. */
export class IngestCounters {
  received = 0;
  decoded = 0;
  rejected = 0;
  readonly rejectedBy = new Map<RejectReason, number>(REJECT_REASONS.map((r) => [r, 0]));
  /** Distinct topics seen that the catalog does not know (bounded, see PointMirror). */
  unknownTopics = 0;
  brokerReconnects = 0;
  /** Topic filters the broker refused in a SUBACK (each refusal, a filter asked again counts again). */
  subscriptionRefusals = 0;
  /** Times another MQTT client took over the gateway's session. */
  sessionTakeovers = 0;
  /** Connections to the broker that the keep-alive watchdog took for lost (a silent, dead route). */
  keepaliveTimeouts = 0;
  /** Connections on which the broker did not resume the session the gateway had. */
  sessionsNotResumed = 0;
  /** The embedded broker's refusals, by reason. */
  readonly brokerRefusals = new Map<BrokerRefusal, number>(BROKER_REFUSALS.map((r) => [r, 0]));
  /** Per family (a topic's first level), "other" for a topic without a numeric one. */
  readonly byFamily = new Map<string, FamilyCounts>();

  /** A message of `topic` not mirrored, for `reason`. */
  reject(reason: RejectReason, topic = ""): void {
    this.rejected++;
    this.rejectedBy.set(reason, (this.rejectedBy.get(reason) ?? 0) + 1);
    const slash = topic.indexOf("/");
    const first = slash < 0 ? topic : topic.slice(0, slash);
    this.family(/^[0-9]{1,9}$/.test(first) ? first : "other").rejected++;
  }

  /** A message of a point of `family` mirrored: one map lookup more than a plain increment. */
  decodedIn(family: string): void {
    this.decoded++;
    this.family(family).decoded++;
  }

  private family(name: string): FamilyCounts {
    let counts = this.byFamily.get(name);
    if (!counts) {
      if (this.byFamily.size >= MAX_FAMILIES && name !== "other") return this.family("other");
      counts = { decoded: 0, rejected: 0 };
      this.byFamily.set(name, counts);
    }
    return counts;
  }
}

/** Command totals for diagnostics; plain fields. */
export class CommandCounters {
  calls = 0;
  succeeded = 0;
  rejected = 0;
  noCommunication = 0;
  timedOut = 0;
  lateReplies = 0;
  /** Answers to a waiting command that came on another device's reply topic: refused, never delivered. */
  refusedReplies = 0;
  lastLatencyMs = 0;
  /**
   * Commands published (QoS 1, 2) whose handshake the broker has not completed (PUBACK, PUBCOMP):
   * a gauge. MQTT.js sends them again with the session; a caller that gave up has BadTimeout.
   */
  unacknowledged = 0;
}

/** What became of a call, as CommandCounters counts it. */
export type CommandOutcomeKind = "succeeded" | "rejected" | "noCommunication" | "timedOut";

/** The history store's totals (src/history keeps them, /metrics shows them). */
export interface HistoryCounters {
  written: number;
  /** On disk: the store's files. */
  bytes: number;
  /** Appended and not yet committed. */
  backlog: number;
  droppedByAge: number;
  droppedBySize: number;
  droppedByBacklog: number;
  droppedByWriteError: number;
  /** Never stored because the disk was full (SQLITE_FULL): the failed commit's, then those appended while paused. */
  droppedByDiskFull: number;
  /** The event journal (README, History: event history); its backlog and write errors count above. */
  eventsWritten: number;
  eventsDroppedByAge: number;
  eventsDroppedBySize: number;
  /** Shipping to PostgreSQL; null unless history.postgres.enabled. */
  postgres: PostgresShippingCounters | null;
}

/** The history thread's shipping to PostgreSQL (README, History: PostgreSQL). */
export interface PostgresShippingCounters {
  /** Values PostgreSQL committed. */
  shipped: number;
  /** Values committed locally and not yet shipped. */
  backlog: number;
  /** Epoch ms of the last batch PostgreSQL committed; 0: none yet. */
  lastSuccess: number;
  /** Epoch ms of the first failure since PostgreSQL was last reached; 0: reachable. */
  unreachableSince: number;
  lastError: string;
  /** How `samples` is stored; "" until the first connection. */
  mode: "" | "timescaledb" | "plain";
  /** Failures by phase: connecting (or logging in), making the tables, shipping a batch. */
  errors: { connect: number; schema: number; ship: number };
  /** Not shipped, removed locally: older than history.retentionDays, beyond maxBacklog, refused by PostgreSQL. */
  droppedByAge: number;
  droppedByBacklog: number;
  droppedRejected: number;
}
