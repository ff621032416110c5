import type { StatusCode, UAObject, UAVariable, Variant } from "node-opcua";
import type { GatewayConfig } from "../config/config-types.js";
import type { HistoryStore, RestoredPoint } from "../history/history-store.js";
import { coerceValue } from "../mapping/coerce.js";
import type { IngestCounters, RejectReason } from "../mapping/counters.js";
import { parseStatus, type StatusTopics } from "../mapping/device-status-topic.js";
import { outsideBand, RECORD_ALL, recordingBand } from "../mapping/history-recording.js";
import { decodePayload } from "../mapping/payload.js";
import { POINT_STATUS, statusOfQuality } from "../mapping/point-status.js";
import { type ParsedTopic, parseTopic } from "../mapping/topic.js";
import { topicMatchesFilter } from "../mapping/topic-filter.js";
import type { Catalog, PointDef } from "../model/catalog-types.js";
import { type DeviceId, declaredDeviceId, deviceKeyOf } from "../model/device-identity.js";
import { unmappedPoint } from "../model/unmapped-point.js";
import type { SubscriptionState } from "../mqtt/broker-link.js";
import type { PointSink, PointValue } from "../opcua/ports.js";
import type { Logger } from "../shared/logger.js";
import { RateLimitedLog } from "../shared/rate-limited-log.js";

/** What the gateway knows of one device: identity, node, and the figures diagnostics show. */
export interface DeviceState<Node = UAObject> extends DeviceId {
  key: string;
  node: Node;
  declared: boolean;
  messageCount: number;
  /** Epoch ms of the last message, 0 before the first. */
  lastSeen: number;
}

/** Why a point shows the status it shows; drives which transitions are allowed. */
type Condition = "waiting" | "fresh" | "stale" | "decodeError" | "connectionLost" | "refused" | "restored";

/** Why a new topic has no point: what the first message of it is rejected for. */
export interface Refusal {
  reason: RejectReason;
  detail: string;
}

interface PointState<Node, Variable, Value> {
  def: PointDef;
  device: DeviceState<Node>;
  variable: Variable;
  condition: Condition;
  /** The last good value, kept when the status turns uncertain or bad. */
  value: Value | null;
  /** The same value as decoded, for history. */
  raw: PointValue;
  sourceTimestamp: Date | null;
  /** Epoch ms of the last fresh value. */
  updatedAt: number;
  /** The status the last fresh value came with, shown again when a reload ends its staleness. */
  freshStatus: StatusCode;
  staleAfterMs: number;
  /** Its id in the history store (0 without one). */
  historyId: number;
  /** history.record for this point (mapping/history-recording.ts): null off, RECORD_ALL every value. */
  band: number | null;
  /** The value and status last recorded, which the next is compared with under a deadband. */
  recorded: PointValue;
  recordedStatus: number;
}

/** A restored device's points not made yet, and their catalog points (PointMirror.restore, makeRestored). */
interface PendingDevice {
  points: RestoredPoint[];
  /** Side by side with `points`: no object made per point (100,000 at a restart). */
  defs: PointDef[];
}

/** Distinct unknown topics remembered for "log once per topic"; beyond, they are only counted. */
const MAX_REMEMBERED_UNKNOWN = 10_000;

/**
 * mirror: turns each MQTT message into a value, status and timestamp on its OPC UA variable,
 * and keeps every point's status honest when the broker goes away or a point goes quiet. It writes
 * through a PointSink (DeviceNodes on a server; the types are its handles).
 */
export class PointMirror<Node = UAObject, Variable = UAVariable, Value = Variant> {
  private readonly devices = new Map<string, DeviceState<Node>>();
  /** Keyed by the whole topic: a known topic costs one lookup before decoding. */
  private readonly points = new Map<string, PointState<Node, Variable, Value>>();
  private readonly unknownTopics = new Set<string>();
  private unmappedCount = 0;
  /** Points now fresh, and points that have had a value: ServiceLevel's share, kept O(1) a message. */
  private fresh = 0;
  private known = 0;
  private readonly log: RateLimitedLog;
  private sweepTimer: NodeJS.Timeout | null = null;
  private connected = true;
  private subscriptions: SubscriptionState = { granted: [], refused: [] };
  /** mapping.staleAfter as last set (at start, or by a reload), for points created from now on. */
  private staleAfter: StaleAfter;
  /** Per `<family>/<id>`, its stale time under staleAfter (ms): looked up once, not per variable. */
  private staleMs = new Map<string, number>();
  /** Restored devices whose points are not made yet, by device key (restore, makeRestored). */
  private readonly pending = new Map<string, PendingDevice>();
  private pendingPoints = 0;
  private background: NodeJS.Immediate | null = null;
  /** Told once the last restored device is made (makeRestoredInBackground). */
  private allMade: (() => void) | null = null;

  constructor(
    private readonly config: GatewayConfig,
    private readonly catalog: Catalog,
    private readonly sink: PointSink<Node, Variable, Value>,
    private readonly counters: IngestCounters,
    private readonly logger: Logger,
    private readonly deviceAdded: (device: DeviceState<Node>) => void = () => {},
    /** Status topics (mapping.statusTopic) and who is told of a device's word on its state. */
    private readonly status: {
      topics: StatusTopics;
      reported(device: DeviceState<Node>, online: boolean, now: number): void;
    } | null = null,
    /** Records every value and status the variables show (history.enabled). */
    private readonly history: Pick<HistoryStore, "pointId" | "append"> | null = null,
    /**
     * Topics that are no point's yet are taken by someone else (SharedAcknowledgements.take): false
     * when not theirs. Asked only for a topic without a point, so known points pay nothing for it.
     */
    private readonly otherTopic: ((topic: string, payload: Uint8Array) => boolean | Refusal) | null = null,
  ) {
    this.log = new RateLimitedLog(logger);
    this.staleAfter = config.mapping.staleAfter;
  }

  /** Starts stale detection, then creates the declared devices with every point of their families. */
  start(): void {
    // Stale times first: each declared point then takes its own as it is created, rather than
    // being computed again for all 100,000 by setStaleTimes.
    this.setStaleTimes(this.config.mapping.staleAfter);
    this.declareDevices(this.config.devices);
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    if (this.background) clearImmediate(this.background);
    this.background = null;
  }

  get deviceCount(): number {
    return this.devices.size;
  }

  /** Every point, also those of restored devices whose nodes are not made yet. */
  get pointCount(): number {
    return this.points.size + this.pendingPoints;
  }

  /** Restored devices whose points are not made yet (restore). */
  get pendingDevices(): number {
    return this.pending.size;
  }

  /** Distinct unknown topics remembered to log each once (at most MAX_REMEMBERED_UNKNOWN). */
  get rememberedUnknownTopics(): number {
    return this.unknownTopics.size;
  }

  /** Points whose last value is fresh, and points that have had a value at all (README, Redundancy). */
  get freshness(): { fresh: number; known: number } {
    return { fresh: this.fresh, known: this.known };
  }

  get isConnected(): boolean {
    return this.connected;
  }

  deviceStates(): IterableIterator<DeviceState<Node>> {
    return this.devices.values();
  }

  /** One MQTT message. Never throws: whatever is wrong is counted, logged (rate-limited) and dropped. */
  handle(topic: string, payload: Uint8Array, now = Date.now()): void {
    this.counters.received++;
    try {
      if (payload.length > this.config.mapping.maxPayloadBytes) {
        this.reject(
          "payloadTooLarge",
          topic,
          `${payload.length} bytes > ${this.config.mapping.maxPayloadBytes}`,
        );
        return;
      }
      const state = this.points.get(topic) ?? this.discover(topic, payload, now);
      if (!state) return;
      state.device.messageCount++;
      state.device.lastSeen = now;
      this.update(state, payload, now);
    } catch (err) {
      // A bug must cost one message, not the gateway; counted apart, so that it is never taken
      // for bad input.
      this.counters.reject("internalError", topic);
      this.log.error("internalError", "internal error while mirroring a message", {
        reason: "internalError",
        topic,
        error: (err as Error).message,
        stack: (err as Error).stack,
      });
    }
  }

  /** Broker lost: every point keeps its last value as UncertainNoCommunicationLastUsableValue. */
  connectionLost(now = Date.now()): void {
    if (!this.connected) return;
    this.connected = false;
    const at = new Date(now);
    this.fresh = 0;
    for (const s of this.points.values()) {
      s.condition = "connectionLost";
      const status = s.value ? POINT_STATUS.connectionLostWithValue : POINT_STATUS.connectionLostNoValue;
      this.write(s, status, at);
    }
  }

  /**
   * The broker answered the subscriptions: a point that only a refused filter would bring turns
   * BadConfigurationError (its last value kept). A filter is asked again only at a connect, so a
   * point it then brings has been through connectionLost and waits for its next value as any does.
   */
  subscriptionsChanged(state: SubscriptionState, now = Date.now()): void {
    this.subscriptions = state;
    if (state.refused.length === 0) return;
    const at = new Date(now);
    for (const [topic, s] of this.points)
      if (s.condition !== "refused" && this.isRefused(topic)) {
        this.leave(s, "refused");
        this.write(s, POINT_STATUS.subscriptionRefused, at);
      }
  }

  /** True when a refused filter matches the topic and no granted one does. */
  private isRefused(topic: string): boolean {
    const { refused, granted } = this.subscriptions;
    return (
      refused.some((r) => topicMatchesFilter(topic, r.filter)) &&
      !granted.some((g) => topicMatchesFilter(topic, g))
    );
  }

  /** Broker back: statuses stay as they are until each point's next fresh value. */
  connectionRestored(): void {
    this.connected = true;
  }

  private update(s: PointState<Node, Variable, Value>, payload: Uint8Array, now: number): void {
    const def = s.def;
    const decoded = decodePayload(payload, def.topicId, def.dataType === "String");
    if (!decoded.ok) {
      this.decodeError(s, decoded.reason, decoded.detail, now);
      return;
    }
    const coerced = coerceValue(decoded.value, def.dataType);
    if (!coerced.ok) {
      this.decodeError(s, coerced.reason, coerced.detail, now);
      return;
    }
    // Only a point turning fresh changes the counts (a point without a value is never fresh): a point
    // that stays fresh, most messages, pays one comparison.
    if (s.condition !== "fresh") {
      this.fresh++;
      if (s.value === null) this.known++;
    }
    s.value = this.sink.value(def.dataType, coerced.value);
    s.raw = coerced.value;
    const received = new Date(now);
    // Without a payload timestamp, the moment the gateway received the value is the best there is.
    s.sourceTimestamp = decoded.sourceTimestamp ?? received;
    s.updatedAt = now;
    s.condition = "fresh";
    s.freshStatus = statusOfQuality(decoded.quality);
    this.write(s, s.freshStatus, received);
    // Counted once written: a write that throws is an internalError, not decoded as well.
    this.counters.decodedIn(def.family);
  }

  private decodeError(
    s: PointState<Node, Variable, Value>,
    reason: RejectReason,
    detail: string,
    now: number,
  ): void {
    this.leave(s, "decodeError");
    this.write(s, POINT_STATUS.decodeError, new Date(now));
    this.reject(reason, `${s.def.topicId}/${s.device.key}`, detail);
  }

  /** `serverTime` is shared by the writes of one moment (a Date is never changed once written). */
  private write(s: PointState<Node, Variable, Value>, status: StatusCode, serverTime: Date): void {
    this.show(s, status, serverTime);
    if (this.history && s.band !== null) {
      // Status changes always; values as history.record says (the per-message path: one comparison).
      if (s.band !== RECORD_ALL) {
        if (status.value === s.recordedStatus && !outsideBand(s.raw, s.recorded, s.band)) return;
        s.recorded = s.raw;
        s.recordedStatus = status.value;
      }
      const fresh = s.condition === "fresh";
      this.history.append(
        s.historyId,
        {
          value: s.raw,
          // A status change (broker lost, stale, decode error) is kept at the moment it happened, so
          // that history shows the outage where it was, not at the last value's source time.
          sourceTime: (fresh && s.sourceTimestamp ? s.sourceTimestamp : serverTime).getTime(),
          serverTime: serverTime.getTime(),
          status: status.value,
        },
        fresh,
      );
    }
  }

  /** What the variable shows, without recording it. */
  private show(s: PointState<Node, Variable, Value>, status: StatusCode, serverTime: Date): void {
    this.sink.write(
      s.variable,
      s.value ?? this.sink.value(s.def.dataType, null),
      status,
      s.sourceTimestamp,
      serverTime,
    );
  }

  /** A point's condition turns from whatever it was to one that is not fresh. */
  private leave(s: PointState<Node, Variable, Value>, condition: Exclude<Condition, "fresh">): void {
    if (s.condition === "fresh") this.fresh--;
    s.condition = condition;
  }

  private sweepStale(now: number): void {
    const at = new Date(now);
    for (const s of this.points.values())
      if (s.condition === "fresh" && s.staleAfterMs > 0 && now - s.updatedAt > s.staleAfterMs) {
        this.leave(s, "stale");
        this.write(s, POINT_STATUS.stale, at);
      }
  }

  /** First message on a topic: find its point and device, or count why there is none. */
  private discover(
    topic: string,
    payload: Uint8Array,
    now: number,
  ): PointState<Node, Variable, Value> | undefined {
    const statusOf = this.status?.topics.match(topic);
    if (statusOf) {
      this.statusMessage(topic, statusOf, payload, now);
      return undefined;
    }
    // A restored device not made yet: made now, and its point takes the message as any known one.
    if (this.pending.size > 0) {
      const key = parseTopic(topic)?.deviceKey;
      if (key !== undefined && this.pending.has(key)) {
        this.makeRestored(key, now);
        const made = this.points.get(topic);
        if (made) return made;
      }
    }
    const taken = this.otherTopic?.(topic, payload) ?? false;
    if (taken === true) this.counters.decoded++;
    else if (taken) this.reject(taken.reason, topic, taken.detail);
    if (taken) return undefined;
    const made = this.newPoint(topic);
    if ("reason" in made) {
      this.reject(made.reason, topic, made.detail);
      return undefined;
    }
    return made;
  }

  /** A data topic's point, its device made if new (on its first message). */
  private newPoint(topic: string): PointState<Node, Variable, Value> | Refusal {
    const found = this.defOf(topic);
    if ("reason" in found) return found;
    const device = this.device(found.parsed, "discovered", found.parsed.deviceKey);
    return device ? this.point(topic, found.def, device) : this.deviceLimit();
  }

  /** A topic's catalog point (or Unmapped stand-in), or why it has none. */
  private defOf(topic: string): { parsed: ParsedTopic; def: PointDef } | Refusal {
    const parsed = parseTopic(topic);
    if (!parsed)
      return {
        reason: "malformedTopic",
        detail: "not <family>/<id>/<deviceType>/<deviceName>/<deviceSource>",
      };
    const def = this.catalog.byTopicId.get(parsed.topicId) ?? this.unknown(parsed, topic);
    return "reason" in def ? def : { parsed, def };
  }

  private deviceLimit(): Refusal {
    return {
      reason: "deviceLimit",
      detail: `device limit mapping.maxDevices=${this.config.mapping.maxDevices} reached`,
    };
  }

  /**
   * Devices the history store knew, restored at start before the broker link (README, History:
   * continuity): each point is made as its first message would make it, and one with a stored value
   * shows it with its original source timestamp as UncertainLastUsableValue until a fresh one comes.
   * A device the start made for them is counted and limited at once, but its points and nodes are
   * made on first use (makeRestored: a message, a client naming one of its nodes) or in the
   * background after the start, unless `needed` lists it (e.g. it has open conditions).
   */
  restore(points: Iterable<RestoredPoint>, now = Date.now(), needed: ReadonlySet<string> = new Set()): void {
    const at = new Date(now);
    const refused = new Map<RejectReason, number>();
    for (const p of points) {
      const s = this.points.get(p.topic) ?? this.restoredPoint(p, needed, refused);
      if (s && this.showRestored(s, p.last, at)) this.known++;
    }
    // Not messages, so not counted as rejected: the store names points this start will not make.
    if (refused.size > 0) this.logger.warn("stored points not restored", Object.fromEntries(refused));
  }

  /**
   * A stored point without a point yet: made now if its device is there already (declared) or
   * `needed`, else kept for its device's makeRestored (undefined, as when `refused`).
   */
  private restoredPoint(
    p: RestoredPoint,
    needed: ReadonlySet<string>,
    refused: Map<RejectReason, number>,
  ): PointState<Node, Variable, Value> | undefined {
    const found = this.defOf(p.topic);
    if ("reason" in found) return countRefusal(refused, found.reason);
    const key = found.parsed.deviceKey;
    let later = this.pending.get(key);
    if (!later) {
      const isNew = !this.devices.has(key);
      const device = this.device(found.parsed, "restored", key);
      if (!device) return countRefusal(refused, "deviceLimit");
      if (!isNew || needed.has(key)) return this.point(p.topic, found.def, device, p.id);
      later = { points: [], defs: [] };
      this.pending.set(key, later);
    }
    this.defer(later, p, found.def);
    return undefined;
  }

  /** A point kept for its device's makeRestored; counted as known already if it has a value. */
  private defer(later: PendingDevice, p: RestoredPoint, def: PointDef): void {
    later.points.push(p);
    later.defs.push(def);
    this.pendingPoints++;
    if (p.last) this.known++;
  }

  /**
   * Makes a restored device's points (restore), as a start made them before: now, because a message
   * or a client needs one of them (their state then is that of a point made now: broker lost, a
   * filter refused), or in the background. Nothing when the device is not waiting to be made.
   */
  makeRestored(deviceKey: string, now = Date.now()): void {
    const later = this.pending.get(deviceKey);
    if (!later) return;
    // Out first: what making it looks up (its nodes' ids) does not make it again.
    this.pending.delete(deviceKey);
    this.pendingPoints -= later.points.length;
    const device = this.devices.get(deviceKey)!;
    const at = new Date(now);
    for (let i = 0; i < later.points.length; i++) {
      const p = later.points[i]!;
      const s = this.point(p.topic, later.defs[i]!, device, p.id);
      // Counted when deferred; the catalog may have changed the point's type since.
      if (p.last && !this.showRestored(s, p.last, at)) this.known--;
    }
    if (this.pending.size === 0) {
      this.allMade?.();
      this.allMade = null;
    }
  }

  /**
   * Makes the restored devices nobody asked for yet, one per turn of the event loop (a few ms each),
   * so that messages and requests are served in between; `done` once none is left.
   */
  makeRestoredInBackground(done: () => void): void {
    if (this.pending.size === 0) {
      done();
      return;
    }
    this.allMade = done;
    const next = () => {
      this.background = null;
      const key = this.pending.keys().next().value;
      if (key === undefined) return;
      this.makeRestored(key);
      if (this.pending.size > 0) this.background = setImmediate(next);
    };
    this.background = setImmediate(next);
  }

  /**
   * A restored value on a point that has none: UncertainLastUsableValue with its original source
   * time (as it was made: broker lost, filter refused, its status keeps saying so). Shown, not
   * recorded: the store has it already, and a record at each restart would put a copy of every
   * point's last value into history. False when not shown.
   */
  private showRestored(s: PointState<Node, Variable, Value>, last: RestoredPoint["last"], at: Date): boolean {
    if (!last || s.value !== null) return false;
    const coerced = coerceValue(last.value, s.def.dataType);
    if (!coerced.ok) return false;
    s.value = this.sink.value(s.def.dataType, coerced.value);
    s.raw = coerced.value;
    s.sourceTimestamp = new Date(last.sourceTime);
    if (s.condition === "waiting") {
      s.condition = "restored";
      this.show(s, POINT_STATUS.restored, at);
    } else
      this.show(
        s,
        s.condition === "connectionLost"
          ? POINT_STATUS.connectionLostWithValue
          : POINT_STATUS.subscriptionRefused,
        at,
      );
    return true;
  }

  /** A device's last will or status message: its Online state, for a device the gateway knows. */
  private statusMessage(topic: string, id: DeviceId, payload: Uint8Array, now: number): void {
    const device = this.devices.get(deviceKeyOf(id));
    const online = parseStatus(payload);
    if (online === null) {
      this.reject("noValue", topic, 'a status is online/offline, true/false, 1/0 or {"status": …}');
      return;
    }
    this.counters.decoded++;
    if (device) this.status!.reported(device, online, now);
  }

  /** Counts a topic id the catalog does not know; returns its Unmapped stand-in where exposed. */
  private unknown(parsed: ParsedTopic, topic: string): PointDef | Refusal {
    if (!this.unknownTopics.has(topic)) {
      this.counters.unknownTopics++;
      if (this.unknownTopics.size < MAX_REMEMBERED_UNKNOWN) this.unknownTopics.add(topic);
    }
    const { expose, max } = this.config.mapping.unmapped;
    if (!expose) {
      const reason = this.catalog.families.has(parsed.family) ? "unknownId" : "unknownFamily";
      return { reason, detail: `topic id ${parsed.topicId} is not in the catalog` };
    }
    if (this.unmappedCount >= max)
      return { reason: "unmappedLimit", detail: `mapping.unmapped.max=${max} unmapped points exist already` };
    this.unmappedCount++;
    return unmappedPoint(parsed.family, parsed.topicId);
  }

  private device(
    id: DeviceId,
    origin: "declared" | "discovered" | "restored",
    key = deviceKeyOf(id),
  ): DeviceState<Node> | undefined {
    let device = this.devices.get(key);
    if (device) return device;
    if (this.devices.size >= this.config.mapping.maxDevices) return undefined;
    device = {
      deviceType: id.deviceType,
      deviceName: id.deviceName,
      deviceSource: id.deviceSource,
      key,
      node: this.sink.device(id),
      declared: origin === "declared",
      messageCount: 0,
      lastSeen: 0,
    };
    this.devices.set(key, device);
    this.deviceAdded(device);
    // A restart restores hundreds at once: the gateway's one line "devices restored from history"
    // counts them, and a line each would bury it.
    if (origin === "restored") this.logger.debug("device restored", { device: key });
    else this.logger.info("device discovered", { device: key, declared: device.declared });
    return device;
  }

  /** `historyId`: the point's id in the store where known already (a restored point's). */
  private point(
    topic: string,
    def: PointDef,
    device: DeviceState<Node>,
    historyId = this.history?.pointId(topic) ?? 0,
  ): PointState<Node, Variable, Value> {
    const state: PointState<Node, Variable, Value> = {
      def,
      device,
      variable: this.sink.variable(device.node, device, def, topic),
      condition: this.connected ? "waiting" : "connectionLost",
      value: null,
      raw: null,
      sourceTimestamp: null,
      updatedAt: 0,
      freshStatus: POINT_STATUS.good,
      staleAfterMs: this.staleMsOf(def),
      historyId,
      band: recordingBand(this.config.history.record, def, topic),
      recorded: null,
      // No status recorded yet: the first write is recorded whatever its value.
      recordedStatus: -1,
    };
    if (!this.connected) this.write(state, POINT_STATUS.connectionLostNoValue, new Date());
    else if (this.subscriptions.refused.length > 0 && this.isRefused(topic)) {
      state.condition = "refused";
      this.write(state, POINT_STATUS.subscriptionRefused, new Date());
    }
    this.points.set(topic, state);
    return state;
  }

  private reject(reason: RejectReason, topic: string, detail: string): void {
    this.counters.reject(reason, topic);
    // Keyed by reason, not topic: a flood of distinct bogus topics must not flood the log.
    this.log.warn(reason, `message rejected: ${reason}`, { reason, topic, detail });
  }

  /**
   * Declared devices, each with every catalog point (at start, and new ones on a reload); a device
   * discovered earlier gets its missing points. Returns those beyond mapping.maxDevices.
   */
  declareDevices(devices: readonly GatewayConfig["devices"][number][]): GatewayConfig["devices"][number][] {
    const refused: GatewayConfig["devices"][number][] = [];
    for (const d of devices) {
      const device = this.device(declaredDeviceId(d), "declared");
      if (!device) {
        refused.push(d);
        continue;
      }
      device.declared = true;
      // Restored points first, with their store ids and values; then the rest of the catalog's.
      this.makeRestored(device.key);
      for (const def of this.catalog.points) {
        const topic = `${def.topicId}/${device.key}`;
        if (!this.points.has(topic)) this.point(topic, def, device);
      }
    }
    return refused;
  }

  /**
   * Stale times (at start, and again on a reload): every point's is recomputed and the sweep
   * follows the shortest. A stale point that its new stale time no longer makes stale (0, or
   * longer than its age) shows its last value's own status again, as if it had never gone stale.
   */
  setStaleTimes(stale: StaleAfter, now = Date.now()): void {
    this.staleAfter = stale;
    this.staleMs = new Map();
    const at = new Date(now);
    for (const s of this.points.values()) {
      s.staleAfterMs = this.staleMsOf(s.def);
      if (s.condition === "stale" && (s.staleAfterMs === 0 || now - s.updatedAt <= s.staleAfterMs)) {
        // Written while still "stale": history records a status change now, not a fresh value
        // (which would tell the store the device spoke at this moment).
        this.write(s, s.freshStatus, at);
        s.condition = "fresh";
        this.fresh++;
      }
    }
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    const staleTimes = [
      stale.default,
      ...Object.values(stale.families),
      ...Object.values(stale.points),
    ].filter((s) => s > 0);
    if (staleTimes.length > 0) {
      // Sweep often enough that a point turns stale within a quarter of its stale time.
      const every = Math.max(50, Math.min(1000, (Math.min(...staleTimes) * 1000) / 4));
      this.sweepTimer = setInterval(() => this.sweepStale(Date.now()), every);
      this.sweepTimer.unref();
    }
  }

  private staleMsOf(def: PointDef): number {
    let ms = this.staleMs.get(def.topicId);
    if (ms === undefined) {
      ms = staleAfterMs(this.staleAfter, def);
      this.staleMs.set(def.topicId, ms);
    }
    return ms;
  }
}

type StaleAfter = GatewayConfig["mapping"]["staleAfter"];

/** One more stored point not restored for `reason`; nothing to make of it. */
function countRefusal(refused: Map<RejectReason, number>, reason: RejectReason): undefined {
  refused.set(reason, (refused.get(reason) ?? 0) + 1);
  return undefined;
}

/** A point's stale time: its own, else its family's, else the default; 0 never. */
function staleAfterMs(stale: StaleAfter, def: PointDef): number {
  return (stale.points[def.topicId] ?? stale.families[def.family] ?? stale.default) * 1000;
}
