import { randomBytes } from "node:crypto";
import {
  type AddressSpace,
  DataValue,
  getStatusCodeFromCode,
  HistoryData,
  HistoryReadResult,
  type ISessionContext,
  isMinDate,
  ReadEventDetails,
  ReadRawModifiedDetails,
  type StatusCode,
  StatusCodes,
  type UAObject,
  type UAVariable,
  Variant,
} from "node-opcua";
import type { Logger } from "../shared/logger.js";
import { RateLimitedLog } from "../shared/rate-limited-log.js";
import { unpackFields } from "./event-fields.js";
import { StoredEventFilter } from "./event-filter.js";
import {
  type ContinuationData,
  historyEventResult,
  routeEventHistoryReads,
  routeHistoryReads,
} from "./patches/history-read-hook.js";
import type { HistoryPort, HistoryValue, JournalPort } from "./ports.js";

/** Continuation points a session may hold at once (advertised as MaxHistoryContinuationPoints). */
export const HISTORY_CONTINUATION_POINTS = 50;
/** A continuation point not used for this long is released (Part 11 6.3: the Server may). */
const CONTINUATION_TIMEOUT_MS = 10 * 60_000;

const NEVER = Number.MAX_SAFE_INTEGER;
/**
 * Events one page holds at most, also when numValuesPerNode asks for more or for all (0): the rest
 * comes through a continuation point (Part 11 6.4.2.2 lets the Server return fewer).
 */
export const MAX_EVENTS_PER_PAGE = 10_000;
/** Stored events read from the store at a time while filling a page. */
const EVENT_SLICE = 1000;

/** Where a raw read stands between two pages. */
interface Cursor {
  kind: "values";
  variable: UAVariable;
  /** The variable's NodeId text: a continuation point is valid for its own node only. */
  node: string;
  topic: string;
  forward: boolean;
  /** What is left of the range, epoch ms, both inclusive. */
  from: number;
  to: number;
  /** Values at the edge time (from forward, to in reverse) already returned. */
  skip: number;
  numValuesPerNode: number;
  /** The bounding value at the end (Part 11 4.4) still to come, and where it is looked for. */
  endBound: number | null;
  expires: number;
}

/** Where a read of events stands between two pages. */
interface EventCursor {
  kind: "events";
  /** The notifier read (NodeId text): a continuation point is valid for its own node only. */
  node: string;
  /** The SourceNode of the events, null: all (the Server object). */
  source: string | null;
  filter: StoredEventFilter;
  forward: boolean;
  from: number;
  to: number;
  after: { t: number; id: number } | null;
  numValuesPerNode: number;
  expires: number;
}

type Session = object;

/**
 * HistoryRead of raw values (Part 11 6.4.3, ReadRawModifiedDetails with isReadModified false) on
 * every mirrored variable, from the history store through HistoryPort.
 *
 * node-opcua's own historian (installHistoricalDataNode) is not used: it keeps values in memory,
 * adds an HA Configuration object per variable, reads every value of the range before paging,
 * ignores returnBounds and never answers GoodNoData. Here a continuation point holds only where
 * the read stands; each page is read from the store when asked for.
 */
export class HistoryReadService {
  private readonly cursors = new Map<Session, Map<string, Cursor | EventCursor>>();

  private readonly log: RateLimitedLog;

  constructor(
    private readonly port: HistoryPort,
    logger: Logger,
    /** The event journal; null: objects get no event history. */
    private readonly journal: JournalPort | null = null,
  ) {
    this.log = new RateLimitedLog(logger);
  }

  /** Makes `variable` historizing and readable through HistoryRead. */
  install(variable: UAVariable): void {
    routeHistoryReads(variable, (v, context, details, continuation) =>
      this.guarded(v.nodeId.toString(), () =>
        this.historyRead(v.nodeId.toString(), context, continuation, (held) =>
          details instanceof ReadRawModifiedDetails && !details.isReadModified
            ? this.first(v, details, held)
            : result(StatusCodes.BadHistoryOperationUnsupported, []),
        ),
      ),
    );
  }

  /**
   * Makes `object` a HistoricalEventNotifier whose HistoryRead of events (Part 11 6.4.2) returns
   * the journal's events of SourceNode `source`, or every event (null: the Server object).
   */
  installEvents(object: UAObject, source: string | null): void {
    if (!this.journal) return;
    const node = object.nodeId.toString();
    routeEventHistoryReads(object, (context, details, continuation) =>
      this.guarded(node, () =>
        this.historyRead(node, context, continuation, (held) =>
          details instanceof ReadEventDetails
            ? this.firstEvents(object.addressSpace as AddressSpace, node, source, details, held)
            : result(StatusCodes.BadHistoryOperationUnsupported, []),
        ),
      ),
    );
  }

  /** A store that cannot be read answers this node, not the whole request. */
  private guarded(nodeId: string, read: () => HistoryReadResult): HistoryReadResult {
    try {
      return read();
    } catch (err) {
      this.log.warn("read", "history read failed", { nodeId, error: (err as Error).message });
      return result(StatusCodes.BadInternalError, []);
    }
  }

  /** A closed session's continuation points go with it (Part 4 5.10.3). */
  release(session: Session): void {
    this.cursors.delete(session);
  }

  /** Continuation points (Part 11 6.3) for both kinds of read; `first` answers a read without one. */
  private historyRead(
    node: string,
    context: ISessionContext,
    continuation: ContinuationData,
    first: (held: Map<string, Cursor | EventCursor>) => HistoryReadResult,
  ): HistoryReadResult {
    const session = (context as { session?: Session }).session ?? context;
    this.expire(Date.now());
    const held = this.cursors.get(session) ?? new Map<string, Cursor | EventCursor>();
    this.cursors.set(session, held);
    const point = continuation.continuationPoint;
    if (point && point.length > 0) {
      const key = point.toString("hex");
      const cursor = held.get(key);
      held.delete(key);
      if (!cursor || cursor.node !== node) return result(StatusCodes.BadContinuationPointInvalid, []);
      if (continuation.releaseContinuationPoints) return result(StatusCodes.Good, []);
      return cursor.kind === "events" ? this.eventPage(cursor, held) : this.page(cursor, held, []);
    }
    if (continuation.releaseContinuationPoints) return result(StatusCodes.Good, []);
    return first(held);
  }

  /** The first page of a raw read: the time domain of Part 11 6.4.3.2 and its start bound. */
  private first(
    variable: UAVariable,
    d: ReadRawModifiedDetails,
    held: Map<string, Cursor | EventCursor>,
  ): HistoryReadResult {
    const start = d.startTime && !isMinDate(d.startTime) ? d.startTime.getTime() : null;
    const end = d.endTime && !isMinDate(d.endTime) ? d.endTime.getTime() : null;
    const n = d.numValuesPerNode;
    // Two of the three shall be given (Part 11 6.4.3.1).
    if ((start === null && end === null) || ((start === null || end === null) && n === 0))
      return result(StatusCodes.BadHistoryOperationInvalid, []);
    const forward = end === null || (start !== null && end >= start);
    const topic = topicOf(variable);
    // The start is included, the end is not (Part 11 3.1.8), unless both are the same (one value).
    const node = variable.nodeId.toString();
    const cursor: Cursor = forward
      ? {
          kind: "values",
          variable,
          node,
          topic,
          forward,
          from: start!,
          to: end === null ? NEVER : end === start ? end : end - 1,
          skip: 0,
          numValuesPerNode: n,
          endBound: d.returnBounds && end !== null && end !== start ? end : null,
          expires: 0,
        }
      : {
          kind: "values",
          variable,
          node,
          topic,
          forward,
          from: start === null ? -NEVER : end! + 1,
          to: start ?? end!,
          skip: 0,
          numValuesPerNode: n,
          endBound: d.returnBounds && start !== null ? end : null,
          expires: 0,
        };
    const out: DataValue[] = [];
    const edge = forward ? cursor.from : cursor.to;
    if (d.returnBounds) {
      // The value at the start, else the nearest one before it in the read's direction (Part 11 4.4).
      const atEdge = this.read(topic, { from: edge, to: edge, forward, limit: 1, skip: 0 });
      if (atEdge.length === 0) out.push(this.bound(variable, edge, forward ? -1 : 1));
    }
    return this.page(cursor, held, out);
  }

  /** The first page of a read of events: its time domain as a raw read's (Part 11 6.4.2.2, 6.4.3.2). */
  private firstEvents(
    addressSpace: AddressSpace,
    node: string,
    source: string | null,
    d: ReadEventDetails,
    held: Map<string, Cursor | EventCursor>,
  ): HistoryReadResult {
    const start = d.startTime && !isMinDate(d.startTime) ? d.startTime.getTime() : null;
    const end = d.endTime && !isMinDate(d.endTime) ? d.endTime.getTime() : null;
    const n = d.numValuesPerNode;
    if ((start === null && end === null) || ((start === null || end === null) && n === 0))
      return historyEventResult(StatusCodes.BadHistoryOperationInvalid, []);
    const filter = StoredEventFilter.of(addressSpace, d.filter);
    if (!(filter instanceof StoredEventFilter)) return historyEventResult(filter, []);
    const forward = end === null || (start !== null && end >= start);
    const range = forward
      ? { from: start!, to: end === null ? NEVER : end === start ? end : end - 1 }
      : { from: start === null ? -NEVER : end! + 1, to: start ?? end! };
    const cursor: EventCursor = {
      kind: "events",
      node,
      source,
      filter,
      forward,
      ...range,
      after: null,
      numValuesPerNode: n,
      expires: 0,
    };
    return this.eventPage(cursor, held);
  }

  /** One page of events from where `cursor` stands, read in slices as the where clause may leave rows out. */
  private eventPage(cursor: EventCursor, held: Map<string, Cursor | EventCursor>): HistoryReadResult {
    const room = Math.min(cursor.numValuesPerNode || MAX_EVENTS_PER_PAGE, MAX_EVENTS_PER_PAGE);
    const out: Variant[][] = [];
    let more = false;
    for (;;) {
      const rows = this.journal!.readEvents({ ...cursor, limit: EVENT_SLICE });
      for (const row of rows) {
        const fields = cursor.filter.apply({ ...row, fields: unpackFields(row.fields) });
        if (fields === null) {
          cursor.after = { t: row.t, id: row.id };
          continue;
        }
        if (out.length === room) {
          more = true;
          break;
        }
        out.push(fields);
        cursor.after = { t: row.t, id: row.id };
      }
      if (more || rows.length < EVENT_SLICE) break;
    }
    if (!more) return historyEventResult(out.length === 0 ? StatusCodes.GoodNoData : StatusCodes.Good, out);
    const key = hold(held, cursor);
    return key
      ? historyEventResult(StatusCodes.Good, out, key)
      : historyEventResult(StatusCodes.BadNoContinuationPoints, []);
  }

  /** Fills one page from where `cursor` stands; registers a continuation point if more is left. */
  private page(cursor: Cursor, held: Map<string, Cursor | EventCursor>, out: DataValue[]): HistoryReadResult {
    const { variable } = cursor;
    const n = cursor.numValuesPerNode;
    const room = n === 0 ? 0 : n - out.length;
    const values =
      n !== 0 && room === 0
        ? []
        : this.read(cursor.topic, {
            from: cursor.from,
            to: cursor.to,
            forward: cursor.forward,
            limit: n === 0 ? 0 : room + 1,
            skip: cursor.skip,
          });
    const more = n !== 0 && (room === 0 || values.length > room);
    const taken = more ? values.slice(0, room) : values;
    for (const dv of dataValuesOf(variable, taken)) out.push(dv);
    if (taken.length > 0) this.advance(cursor, taken);
    if (!more && cursor.endBound !== null) {
      if (n === 0 || out.length < n) {
        out.push(this.endBound(variable, cursor.endBound, cursor.forward));
        cursor.endBound = null;
      }
    }
    if (!more && cursor.endBound === null)
      return result(out.length === 0 ? StatusCodes.GoodNoData : StatusCodes.Good, out);
    const key = hold(held, cursor);
    return key ? result(StatusCodes.Good, out, key) : result(StatusCodes.BadNoContinuationPoints, []);
  }

  /** The range left after `taken`: it starts at the last time returned, skipping what was returned at it. */
  private advance(cursor: Cursor, taken: HistoryValue[]): void {
    const last = taken.at(-1)!.sourceTime;
    const edge = cursor.forward ? cursor.from : cursor.to;
    let atLast = taken.filter((v) => v.sourceTime === last).length;
    if (last === edge) atLast += cursor.skip;
    if (cursor.forward) cursor.from = last;
    else cursor.to = last;
    cursor.skip = atLast;
  }

  /** The first value at or beyond the end, else LAST: null, the end time, BadBoundNotFound. */
  private endBound(variable: UAVariable, end: number, forward: boolean): DataValue {
    const found = forward
      ? this.read(topicOf(variable), { from: end, to: NEVER, forward: true, limit: 1, skip: 0 })
      : this.read(topicOf(variable), { from: -NEVER, to: end, forward: false, limit: 1, skip: 0 });
    return found[0] ? dataValuesOf(variable, found)[0]! : notFound(end);
  }

  /** The nearest value before `edge` (direction -1) or after it (1), else FIRST. */
  private bound(variable: UAVariable, edge: number, direction: -1 | 1): DataValue {
    const found =
      direction < 0
        ? this.read(topicOf(variable), { from: -NEVER, to: edge - 1, forward: false, limit: 1, skip: 0 })
        : this.read(topicOf(variable), { from: edge + 1, to: NEVER, forward: true, limit: 1, skip: 0 });
    return found[0] ? dataValuesOf(variable, found)[0]! : notFound(edge);
  }

  private read(topic: string, range: Parameters<HistoryPort["read"]>[1]): HistoryValue[] {
    return this.port.read(topic, range) ?? [];
  }

  private expire(now: number): void {
    for (const [session, held] of this.cursors) {
      for (const [key, cursor] of held) if (cursor.expires <= now) held.delete(key);
      if (held.size === 0) this.cursors.delete(session);
    }
  }
}

/** Registers a continuation point for `cursor`; null when the session holds as many as it may. */
function hold(held: Map<string, Cursor | EventCursor>, cursor: Cursor | EventCursor): Buffer | null {
  if (held.size >= HISTORY_CONTINUATION_POINTS) return null;
  const key = randomBytes(12);
  cursor.expires = Date.now() + CONTINUATION_TIMEOUT_MS;
  held.set(key.toString("hex"), cursor);
  return key;
}

/** A mirrored variable's NodeId is its topic (s=<topic>, see DeviceNodes). */
function topicOf(variable: UAVariable): string {
  return String(variable.nodeId.value);
}

/**
 * A stored value as a DataValue. Built field by field, with the variable's DataType looked up once
 * a page: the options form of Variant's constructor and getBasicDataType per value cost ~5 µs a
 * value (a day of 1 Hz values took 450–700 ms to build, measured; the store read 35–110 ms of it).
 */
function dataValuesOf(variable: UAVariable, values: readonly HistoryValue[]): DataValue[] {
  const dataType = variable.getBasicDataType();
  return values.map((v) => {
    const dv = new DataValue();
    if (v.value !== null) {
      const variant = new Variant();
      variant.dataType = dataType;
      variant.value = v.value;
      dv.value = variant;
    }
    dv.statusCode = statusOf(v.status);
    dv.sourceTimestamp = new Date(v.sourceTime);
    dv.serverTimestamp = new Date(v.serverTime);
    return dv;
  });
}

const statuses = new Map<number, StatusCode>();

/** One StatusCode object per code: node-opcua's lookup builds one for codes with info bits. */
function statusOf(code: number): StatusCode {
  let status = statuses.get(code);
  if (!status) {
    status = getStatusCodeFromCode(code);
    // Codes come from the store, i.e. from the status table and payload qualities: few distinct.
    if (statuses.size < 1000) statuses.set(code, status);
  }
  return status;
}

/** Part 11 4.4: a bound the store does not have: null, at the bound's time, BadBoundNotFound. */
function notFound(time: number): DataValue {
  const dv = new DataValue();
  dv.statusCode = StatusCodes.BadBoundNotFound;
  dv.sourceTimestamp = new Date(time);
  dv.serverTimestamp = new Date(time);
  return dv;
}

function result(
  statusCode: StatusCode,
  dataValues: DataValue[],
  continuationPoint?: Buffer,
): HistoryReadResult {
  return new HistoryReadResult({
    statusCode,
    continuationPoint,
    historyData: new HistoryData({ dataValues }),
  });
}
