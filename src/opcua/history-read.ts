import { randomBytes } from "node:crypto";
import type {
  AddressSpace,
  BaseNode,
  ISessionContext,
  StatusCode,
  UAObject,
  UAVariable,
  Variant,
} from "node-opcua";
import {
  type AggregateConfig,
  type AggregateName,
  type AggregateValues,
  type Computation,
  DEFAULT_AGGREGATE_CONFIG,
  intervalCount,
  type ProcessedQuery,
} from "../mapping/aggregates.js";
import type { PointDef } from "../model/catalog-types.js";
import type { Logger } from "../shared/logger.js";
import {
  DataType,
  HistoryReadResult,
  isMinDate,
  ReadAtTimeDetails,
  ReadEventDetails,
  ReadProcessedDetails,
  ReadRawModifiedDetails,
  StatusCodes,
  TimestampsToReturn,
} from "../shared/node-opcua.js";
import { RateLimitedLog } from "../shared/rate-limited-log.js";
import { unpackFields } from "./event-fields.js";
import { StoredEventFilter } from "./event-filter.js";
import { aggregateOf, type HistoryConfigurations } from "./history-nodes.js";
import {
  type EncodableValue,
  EncodedHistoryData,
  encodeHistoryData,
} from "./patches/encoded-history-data.js";
import {
  type ContinuationData,
  historyEventResult,
  historyReadMethod,
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

/** Where a processed or at-time read stands between two pages: its next interval or time. */
interface ComputedCursor {
  kind: "computed";
  /** The variable's NodeId text: a continuation point is valid for its own node only. */
  node: string;
  topic: string;
  /** Intervals or times in all. */
  total: number;
  next: number;
  /** The computation of values [first, first + count). */
  part(first: number, count: number): Computation;
  /** Those values for a point the store has never seen. */
  missing(first: number, count: number): EncodableValue[];
  dataType: DataType;
  expires: number;
}

/** Where a raw read stands between two pages. */
interface RawCursor {
  kind: "raw";
  variable: UAVariable;
  node: string;
  topic: string;
  dataType: DataType;
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
  /** The notifier read (NodeId text). */
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

type Cursor = RawCursor | ComputedCursor | EventCursor;

type Session = object;

/** A node's answer before it is encoded with the timestamps the request asked for. */
interface Page {
  statusCode: StatusCode;
  values: readonly EncodableValue[];
  dataType: DataType;
  continuationPoint?: Buffer;
}

type Answer = Page | Promise<Page>;

/**
 * HistoryRead on every mirrored variable, from the history store through HistoryPort: raw values
 * (Part 11 6.4.3, ReadRawModifiedDetails with isReadModified false), processed values (6.4.4, the
 * Part 13 aggregates of mapping/aggregates.ts, computed by the store's thread) and values at
 * given times (6.4.5); and events from the journal through JournalPort on the objects that are
 * HistoricalEventNotifiers (6.4.2).
 *
 * node-opcua's own historian (installHistoricalDataNode) is not used: it keeps values in memory,
 * adds an HA Configuration object per variable, reads every value of the range before paging,
 * ignores returnBounds and never answers GoodNoData. Here a continuation point holds only where
 * the read stands; each page is read from the store when asked for.
 */
export class HistoryReadService {
  private readonly cursors = new Map<Session, Map<string, Cursor>>();

  private readonly log: RateLimitedLog;

  /**
   * `maxProcessedValues`: the values (intervals, times) a processed or at-time read returns per
   * request, the rest through a continuation point (history.maxProcessedValues).
   */
  constructor(
    private readonly port: HistoryPort,
    logger: Logger,
    private readonly configurations: HistoryConfigurations,
    private readonly maxProcessedValues: number,
    /** The event journal; null: objects get no event history. */
    private readonly journal: JournalPort | null = null,
  ) {
    this.log = new RateLimitedLog(logger);
  }

  /** The HA Configuration a point's variables reference (DeviceNodes shares the reference among them). */
  configurationOf(point: PointDef): BaseNode {
    return this.configurations.of(point);
  }

  /** Makes `variable` historizing and readable through HistoryRead. */
  install(variable: UAVariable): void {
    routeHistoryReads(variable, this.readHistory);
  }

  /** Every historized variable's HistoryRead: one function, called as the variable's method. */
  private readonly readHistory = historyReadMethod((v, context, details, continuation) => {
    const node = v.nodeId.toString();
    const timestamps = continuation.timestampsToReturn ?? TimestampsToReturn.Both;
    // Part 4 5.10.3.1: Neither is not valid for HistoryRead; Part 13 5.4.3.1: an aggregate (and
    // an at-time value, interpolated as one) has only a source timestamp.
    if (
      timestamps === TimestampsToReturn.Neither ||
      (timestamps === TimestampsToReturn.Server && !(details instanceof ReadRawModifiedDetails))
    )
      return encoded(result(StatusCodes.BadTimestampsToReturnInvalid, []), timestamps);
    const answer = this.guarded(node, result(StatusCodes.BadInternalError, []), () =>
      this.historyRead<Answer>(node, context, continuation, {
        status: (code) => result(code, []),
        first: (held) => this.firstValues(v, details, held),
        next: (cursor, held) => {
          if (cursor.kind === "raw") return this.page(cursor, held, []);
          if (cursor.kind === "computed") return this.computedPage(cursor, held);
          return result(StatusCodes.BadContinuationPointInvalid, []);
        },
      }),
    );
    return answer instanceof Promise
      ? answer.then((page) => encoded(page, timestamps))
      : encoded(answer, timestamps);
  });

  /**
   * Makes `object` a HistoricalEventNotifier whose HistoryRead of events (Part 11 6.4.2) returns
   * the journal's events of SourceNode `source`, or every event (null: the Server object).
   */
  installEvents(object: UAObject, source: string | null): void {
    if (!this.journal) return;
    const node = object.nodeId.toString();
    routeEventHistoryReads(object, (context, details, continuation) =>
      this.guarded(node, historyEventResult(StatusCodes.BadInternalError, []), () =>
        this.historyRead<HistoryReadResult>(node, context, continuation, {
          status: (code) => historyEventResult(code, []),
          first: (held) =>
            details instanceof ReadEventDetails
              ? this.firstEvents(object.addressSpace as AddressSpace, node, source, details, held)
              : historyEventResult(StatusCodes.BadHistoryOperationUnsupported, []),
          next: (cursor, held) =>
            cursor.kind === "events"
              ? this.eventPage(cursor, held)
              : historyEventResult(StatusCodes.BadContinuationPointInvalid, []),
        }),
      ),
    );
  }

  /** A store that cannot be read answers this node (`failed`), not the whole request. */
  private guarded<T>(nodeId: string, failed: T, read: () => T): T {
    const fail = (err: unknown) => {
      this.log.warn("read", "history read failed", { nodeId, error: (err as Error).message });
      return failed;
    };
    try {
      const answer = read();
      return (answer instanceof Promise ? answer.catch(fail) : answer) as T;
    } catch (err) {
      return fail(err);
    }
  }

  /** A closed session's continuation points go with it (Part 4 5.10.3). */
  release(session: Session): void {
    this.cursors.delete(session);
  }

  /**
   * Continuation points (Part 11 6.3) for every kind of read: `first` answers a read without one,
   * `next` one that continues, `status` one answered by a status alone.
   */
  private historyRead<T>(
    node: string,
    context: ISessionContext,
    continuation: ContinuationData,
    reply: {
      status(code: StatusCode): T;
      first(held: Map<string, Cursor>): T;
      next(cursor: Cursor, held: Map<string, Cursor>): T;
    },
  ): T {
    const session = (context as { session?: Session }).session ?? context;
    this.expire(Date.now());
    const held = this.cursors.get(session) ?? new Map<string, Cursor>();
    this.cursors.set(session, held);
    const point = continuation.continuationPoint;
    if (point && point.length > 0) {
      const key = point.toString("hex");
      const cursor = held.get(key);
      held.delete(key);
      if (!cursor || cursor.node !== node) return reply.status(StatusCodes.BadContinuationPointInvalid);
      if (continuation.releaseContinuationPoints) return reply.status(StatusCodes.Good);
      return reply.next(cursor, held);
    }
    if (continuation.releaseContinuationPoints) return reply.status(StatusCodes.Good);
    return reply.first(held);
  }

  /** A variable's read without a continuation point: raw, processed or at time. */
  private firstValues(variable: UAVariable, details: unknown, held: Map<string, Cursor>): Answer {
    if (details instanceof ReadProcessedDetails) return this.processed(variable, details, held);
    if (details instanceof ReadAtTimeDetails) return this.atTime(variable, details, held);
    if (!(details instanceof ReadRawModifiedDetails) || details.isReadModified)
      return result(StatusCodes.BadHistoryOperationUnsupported, []);
    return this.first(variable, details, held);
  }

  /** The first page of a read of events: its time domain as a raw read's (Part 11 6.4.2.2, 6.4.3.2). */
  private firstEvents(
    addressSpace: AddressSpace,
    node: string,
    source: string | null,
    d: ReadEventDetails,
    held: Map<string, Cursor>,
  ): HistoryReadResult {
    const domain = timeDomain(d);
    if (!domain) return historyEventResult(StatusCodes.BadHistoryOperationInvalid, []);
    const filter = StoredEventFilter.of(addressSpace, d.filter);
    if (!(filter instanceof StoredEventFilter)) return historyEventResult(filter, []);
    const { forward, from, to } = domain;
    const cursor: EventCursor = {
      kind: "events",
      node,
      source,
      filter,
      forward,
      from,
      to,
      after: null,
      numValuesPerNode: d.numValuesPerNode,
      expires: 0,
    };
    return this.eventPage(cursor, held);
  }

  /** One page of events from where `cursor` stands, read in slices as the where clause may leave rows out. */
  private eventPage(cursor: EventCursor, held: Map<string, Cursor>): HistoryReadResult {
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
    const key = this.register(cursor, held);
    return key
      ? historyEventResult(StatusCodes.Good, out, key)
      : historyEventResult(StatusCodes.BadNoContinuationPoints, []);
  }

  /**
   * The first page of a processed read (Part 11 6.4.4): the aggregate of the request for this
   * node, its intervals (Part 13 5.4.2.2), the configuration asked or the server's (4.2.1.2).
   */
  private processed(variable: UAVariable, d: ReadProcessedDetails, held: Map<string, Cursor>): Answer {
    const aggregate = aggregateOf(d.aggregateType?.[0]);
    if (!aggregate) return result(StatusCodes.BadAggregateNotSupported, []);
    if (refusesNumbers(variable)) return result(StatusCodes.BadAggregateInvalidInputs, []);
    const start = d.startTime && !isMinDate(d.startTime) ? d.startTime.getTime() : null;
    const end = d.endTime && !isMinDate(d.endTime) ? d.endTime.getTime() : null;
    if (start === null || end === null || start === end || !(d.processingInterval >= 0))
      return result(StatusCodes.BadInvalidArgument, []);
    const c = d.aggregateConfiguration;
    const config: AggregateConfig =
      !c || c.useServerCapabilitiesDefaults
        ? DEFAULT_AGGREGATE_CONFIG
        : {
            treatUncertainAsBad: c.treatUncertainAsBad,
            percentDataBad: c.percentDataBad,
            percentDataGood: c.percentDataGood,
            useSlopedExtrapolation: c.useSlopedExtrapolation,
          };
    const query: ProcessedQuery = {
      aggregate,
      start,
      end,
      interval: d.processingInterval,
      config,
      stepped: this.configurations.stepped(variable),
    };
    return this.computedPage(
      {
        kind: "computed",
        node: variable.nodeId.toString(),
        topic: topicOf(variable),
        total: intervalCount(query),
        next: 0,
        part: (first, count) => ({ kind: "processed", query, first, count }),
        missing: (first, count) => noDataFor(query, first, count),
        dataType: resultType(aggregate, variable),
        expires: 0,
      },
      held,
    );
  }

  /**
   * Values at the requested times (Part 11 6.4.5), in their order: raw where one was stored at the
   * time, else interpolated from simple or interpolated bounds (Part 13 3.1.8, 3.1.9).
   */
  private atTime(variable: UAVariable, d: ReadAtTimeDetails, held: Map<string, Cursor>): Answer {
    const times = (d.reqTimes ?? []).map((t) => (t ? t.getTime() : 0));
    if (times.length === 0) return result(StatusCodes.BadInvalidArgument, []);
    if (refusesNumbers(variable)) return result(StatusCodes.BadAggregateInvalidInputs, []);
    const simpleBounds = d.useSimpleBounds;
    const stepped = this.configurations.stepped(variable);
    return this.computedPage(
      {
        kind: "computed",
        node: variable.nodeId.toString(),
        topic: topicOf(variable),
        total: times.length,
        next: 0,
        part: (first, count) => ({
          kind: "atTime",
          times: times.slice(first, first + count),
          simpleBounds,
          stepped,
          config: DEFAULT_AGGREGATE_CONFIG,
        }),
        missing: (first, count) =>
          times.slice(first, first + count).map((t) => notFoundAt(t, StatusCodes.BadNoData)),
        dataType: resultType("Interpolative", variable),
        expires: 0,
      },
      held,
    );
  }

  /** Up to maxProcessedValues values from where `cursor` stands; a continuation point if more are left. */
  private async computedPage(cursor: ComputedCursor, held: Map<string, Cursor>): Promise<Page> {
    const count = Math.min(this.maxProcessedValues, cursor.total - cursor.next);
    const computed = await this.port.compute(cursor.topic, cursor.part(cursor.next, count));
    const values = computed ? computedValues(computed) : cursor.missing(cursor.next, count);
    cursor.next += count;
    if (cursor.next >= cursor.total) return result(statusOfPage(values), values, cursor.dataType);
    return this.hold(cursor, held, values);
  }

  /** Registers `cursor` as a continuation point of this session, or answers that none is left. */
  private hold(
    cursor: RawCursor | ComputedCursor,
    held: Map<string, Cursor>,
    values: EncodableValue[],
  ): Page {
    const key = this.register(cursor, held);
    return key
      ? result(StatusCodes.Good, values, cursor.dataType, key)
      : result(StatusCodes.BadNoContinuationPoints, []);
  }

  /** Registers a continuation point for `cursor`; null when the session holds as many as it may. */
  private register(cursor: Cursor, held: Map<string, Cursor>): Buffer | null {
    if (held.size >= HISTORY_CONTINUATION_POINTS) return null;
    const key = randomBytes(12);
    cursor.expires = Date.now() + CONTINUATION_TIMEOUT_MS;
    held.set(key.toString("hex"), cursor);
    return key;
  }

  /** The first page of a raw read: the time domain of Part 11 6.4.3.2 and its start bound. */
  private first(variable: UAVariable, d: ReadRawModifiedDetails, held: Map<string, Cursor>): Page {
    const domain = timeDomain(d);
    if (!domain) return result(StatusCodes.BadHistoryOperationInvalid, []);
    const { start, end, forward, from, to } = domain;
    const topic = topicOf(variable);
    const cursor: RawCursor = {
      kind: "raw",
      variable,
      node: variable.nodeId.toString(),
      topic,
      dataType: variable.getBasicDataType(),
      forward,
      from,
      to,
      skip: 0,
      numValuesPerNode: d.numValuesPerNode,
      // The value at or beyond the end (Part 11 4.4): none for a range of one time, or without a start read backwards.
      endBound: d.returnBounds && (forward ? end !== null && end !== start : start !== null) ? end : null,
      expires: 0,
    };
    const out: EncodableValue[] = [];
    const edge = forward ? cursor.from : cursor.to;
    if (d.returnBounds) {
      // The value at the start, else the nearest one before it in the read's direction (Part 11 4.4).
      const atEdge = this.read(topic, { from: edge, to: edge, forward, limit: 1, skip: 0 });
      if (atEdge.length === 0) out.push(this.bound(variable, edge, forward ? -1 : 1));
    }
    return this.page(cursor, held, out);
  }

  /** Fills one page from where `cursor` stands; registers a continuation point if more is left. */
  private page(cursor: RawCursor, held: Map<string, Cursor>, out: EncodableValue[]): Page {
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
    for (const v of taken) out.push(v);
    if (taken.length > 0) this.advance(cursor, taken);
    if (!more && cursor.endBound !== null) {
      if (n === 0 || out.length < n) {
        out.push(this.endBound(variable, cursor.endBound, cursor.forward));
        cursor.endBound = null;
      }
    }
    if (!more && cursor.endBound === null)
      return result(out.length === 0 ? StatusCodes.GoodNoData : StatusCodes.Good, out, cursor.dataType);
    return this.hold(cursor, held, out);
  }

  /** The range left after `taken`: it starts at the last time returned, skipping what was returned at it. */
  private advance(cursor: RawCursor, taken: HistoryValue[]): void {
    const last = taken.at(-1)!.sourceTime;
    const edge = cursor.forward ? cursor.from : cursor.to;
    let atLast = taken.filter((v) => v.sourceTime === last).length;
    if (last === edge) atLast += cursor.skip;
    if (cursor.forward) cursor.from = last;
    else cursor.to = last;
    cursor.skip = atLast;
  }

  /** The first value at or beyond the end, else LAST: null, the end time, BadBoundNotFound. */
  private endBound(variable: UAVariable, end: number, forward: boolean): EncodableValue {
    const found = forward
      ? this.read(topicOf(variable), { from: end, to: NEVER, forward: true, limit: 1, skip: 0 })
      : this.read(topicOf(variable), { from: -NEVER, to: end, forward: false, limit: 1, skip: 0 });
    return found[0] ?? notFound(end);
  }

  /** The nearest value before `edge` (direction -1) or after it (1), else FIRST. */
  private bound(variable: UAVariable, edge: number, direction: -1 | 1): EncodableValue {
    const found =
      direction < 0
        ? this.read(topicOf(variable), { from: -NEVER, to: edge - 1, forward: false, limit: 1, skip: 0 })
        : this.read(topicOf(variable), { from: edge + 1, to: NEVER, forward: true, limit: 1, skip: 0 });
    return found[0] ?? notFound(edge);
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

/**
 * The time domain of a raw read (Part 11 6.4.3.2), and of an event read (6.4.2.2): two of start,
 * end and numValuesPerNode shall be given (6.4.3.1), else null; the start is included, the end is
 * not (3.1.8) unless both are the same (one value); an end before the start, or an end without a
 * start, reads backwards. `from` and `to` are epoch ms, both inclusive.
 */
function timeDomain(d: { startTime?: Date | null; endTime?: Date | null; numValuesPerNode: number }): {
  start: number | null;
  end: number | null;
  forward: boolean;
  from: number;
  to: number;
} | null {
  const start = d.startTime && !isMinDate(d.startTime) ? d.startTime.getTime() : null;
  const end = d.endTime && !isMinDate(d.endTime) ? d.endTime.getTime() : null;
  if ((start === null && end === null) || ((start === null || end === null) && d.numValuesPerNode === 0))
    return null;
  const forward = end === null || (start !== null && end >= start);
  return forward
    ? { start, end, forward, from: start!, to: end === null ? NEVER : end === start ? end : end - 1 }
    : { start, end, forward, from: start === null ? -NEVER : end! + 1, to: start ?? end! };
}

/** A mirrored variable's NodeId is its topic (s=<topic>, see DeviceNodes). */
function topicOf(variable: UAVariable): string {
  return String(variable.nodeId.value);
}

/** Part 11 4.4: a bound the store does not have: null, at the bound's time, BadBoundNotFound. */
function notFound(time: number): EncodableValue {
  return notFoundAt(time, StatusCodes.BadBoundNotFound);
}

/** A value without a value: `status` at `time`. */
function notFoundAt(time: number, status: StatusCode): EncodableValue {
  return { value: null, sourceTime: time, serverTime: time, status: status.value };
}

/** A point the store has never seen: Bad_NoData for each interval (Part 13 5.4.3: before the data). */
function noDataFor(query: ProcessedQuery, first: number, count: number): EncodableValue[] {
  const width = query.interval <= 0 ? Math.abs(query.end - query.start) : query.interval;
  const dir = query.end >= query.start ? 1 : -1;
  return Array.from({ length: count }, (_, i) =>
    notFoundAt(query.start + dir * (first + i) * width, StatusCodes.BadNoData),
  );
}

/** The DataType of an aggregate's values (Part 13 Tables: Double, Int32, or the source's). */
function resultType(aggregate: AggregateName, variable: UAVariable): DataType {
  if (aggregate === "Average" || aggregate === "TimeAverage") return DataType.Double;
  if (aggregate === "Count") return DataType.Int32;
  const source = variable.getBasicDataType();
  // A Boolean's Delta is a difference of 0s and 1s, not a Boolean.
  return aggregate === "Delta" && source === DataType.Boolean ? DataType.Double : source;
}

/** The thread's columns as values (timestamps: the interval's, or the raw value's; NaN: no value). */
function computedValues(c: AggregateValues): EncodableValue[] {
  const out: EncodableValue[] = [];
  for (let i = 0; i < c.n; i++) {
    const v = c.v[i]!;
    out.push({
      value: Number.isNaN(v) ? null : v,
      sourceTime: c.t[i]!,
      serverTime: c.t[i]!,
      status: c.s[i]!,
    });
  }
  return out;
}

/**
 * A String point's aggregates and at-time values would need the strings the thread's column
 * decoder leaves out: refused (Part 13 5.3.2, Bad_AggregateInvalidInputs).
 */
function refusesNumbers(variable: UAVariable): boolean {
  return variable.getBasicDataType() === DataType.String;
}

/** Part 11 6.3 (Table 30): Good_NoData for a range without data; the intervals still say Bad_NoData. */
function statusOfPage(values: readonly EncodableValue[]): StatusCode {
  return values.every((v) => v.status === StatusCodes.BadNoData.value)
    ? StatusCodes.GoodNoData
    : StatusCodes.Good;
}

function result(
  statusCode: StatusCode,
  values: readonly EncodableValue[],
  dataType: DataType = DataType.Null,
  continuationPoint?: Buffer,
): Page {
  return { statusCode, values, dataType, continuationPoint };
}

/**
 * A node's result, its values encoded at once (patches/encoded-history-data.ts) with the
 * timestamps asked for (Part 4 5.10.3: Source, Server or Both).
 */
function encoded(page: Page, timestamps: TimestampsToReturn): HistoryReadResult {
  const r = new HistoryReadResult({ statusCode: page.statusCode, continuationPoint: page.continuationPoint });
  const source = timestamps !== TimestampsToReturn.Server;
  const server = timestamps !== TimestampsToReturn.Source;
  r.historyData = new EncodedHistoryData(encodeHistoryData(page.values, page.dataType, { source, server }));
  return r;
}
