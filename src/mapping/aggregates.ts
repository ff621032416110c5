/**
 * The Part 13 aggregates a power engineer reads (Average, TimeAverage, Minimum, Maximum, Count,
 * Start, End, Delta, Interpolative) and Part 11's at-time values, computed over a point's raw
 * values held as columns (a Series): pure, no I/O, run in the history thread so that 2.6 million
 * raw values never become objects on the main thread (README, History: processed reads).
 *
 * Status codes are numbers (this tier does not know node-opcua); test/unit/aggregates.test.ts
 * checks them against node-opcua's.
 */

/** A point's raw values in source-time order: value NaN where the record had none (or a String). */
export interface Series {
  n: number;
  t: Float64Array;
  v: Float64Array;
  s: Uint32Array;
}

export const AGGREGATES = [
  "Interpolative",
  "Average",
  "TimeAverage",
  "Minimum",
  "Maximum",
  "Count",
  "Start",
  "End",
  "Delta",
] as const;
export type AggregateName = (typeof AGGREGATES)[number];

/** Part 13 4.2.1.2 AggregateConfigurationType; the server's defaults are the clause's. */
export interface AggregateConfig {
  treatUncertainAsBad: boolean;
  percentDataBad: number;
  percentDataGood: number;
  useSlopedExtrapolation: boolean;
}

export const DEFAULT_AGGREGATE_CONFIG: AggregateConfig = {
  treatUncertainAsBad: true,
  percentDataBad: 100,
  percentDataGood: 100,
  useSlopedExtrapolation: false,
};

export const GOOD = 0;
export const GOOD_NO_DATA = 0x00a50000;
export const BAD = 0x80000000;
export const BAD_NO_DATA = 0x809b0000;
export const UNCERTAIN_DATA_SUB_NORMAL = 0x40a40000;
/** Part 4 7.39: InfoType DataValue (bit 10) with the historian bits 0-4 (Part 11 6.3, Part 13 5.3.3). */
const INFO = 0x400;
export const RAW = INFO;
export const CALCULATED = INFO | 0x1;
export const INTERPOLATED = INFO | 0x2;
export const PARTIAL = INFO | 0x4;
export const MULTI_VALUE = INFO | 0x10;

const severity = (s: number) => s >>> 30;
const isBadStatus = (s: number) => severity(s) >= 2;
const isUncertainStatus = (s: number) => severity(s) === 1;

/** One result: its timestamp, value (NaN: none) and full StatusCode. */
export interface AggregateValues {
  n: number;
  t: Float64Array;
  v: Float64Array;
  s: Uint32Array;
}

/** What a processed read asks (Part 11 6.4.4), in epoch ms. */
export interface ProcessedQuery {
  aggregate: AggregateName;
  start: number;
  end: number;
  /** ms; 0: one interval over the whole range. */
  interval: number;
  config: AggregateConfig;
  /** The variable's HA Configuration Stepped (Part 11 5.2.2): Interpolative holds the last value. */
  stepped: boolean;
}

/** The intervals of Part 13 5.4.2.2 (Table 12): how many, and where the k-th begins and ends. */
export function intervalCount(q: Pick<ProcessedQuery, "start" | "end" | "interval">): number {
  const range = Math.abs(q.end - q.start);
  if (range === 0) return 0;
  if (q.interval <= 0 || q.interval >= range) return 1;
  return Math.ceil(range / q.interval);
}

/** The k-th interval: `from` its start time (its timestamp), `to` its end, excluded (Table 12). */
export function intervalAt(
  q: Pick<ProcessedQuery, "start" | "end" | "interval">,
  k: number,
): [number, number] {
  const dir = q.end >= q.start ? 1 : -1;
  const width = q.interval <= 0 ? Math.abs(q.end - q.start) : q.interval;
  const from = q.start + dir * k * width;
  const to = dir > 0 ? Math.min(from + width, q.end) : Math.max(from - width, q.end);
  return [from, to];
}

/** A read the history store computes over a point's values (README, History). */
export type Computation =
  | {
      kind: "processed";
      query: ProcessedQuery;
      /** The intervals [first, first + count) of the query (a page). */
      first: number;
      count: number;
    }
  | {
      kind: "atTime";
      times: number[];
      simpleBounds: boolean;
      stepped: boolean;
      config: AggregateConfig;
    };

/** Where the store's values of the point begin and end: intervals outside them are Bad_NoData. */
export interface DataSpan {
  first: number;
  last: number;
}

/**
 * Intervals [first, first + count) of `q` over `series` (which holds the values of those intervals
 * and at least one interval's width around them, for bounds: Part 13 3.1.8 asks a search of at
 * least one ProcessingInterval).
 */
export function computeAggregate(
  series: Series,
  q: ProcessedQuery,
  span: DataSpan | null,
  first: number,
  count: number,
): AggregateValues {
  const out: AggregateValues = {
    n: count,
    t: new Float64Array(count),
    v: new Float64Array(count).fill(Number.NaN),
    s: new Uint32Array(count),
  };
  const calc = new IntervalCalc(series, q.config, q.stepped);
  const width = q.interval <= 0 ? Math.abs(q.end - q.start) : q.interval;
  for (let i = 0; i < count; i++) {
    const [from, to] = intervalAt(q, first + i);
    const lo = Math.min(from, to);
    const hi = Math.max(from, to);
    out.t[i] = from;
    // Part 13 5.3.3.2: before the first stored value or after the last, Bad_NoData; an interval
    // that holds either edge of the data, or is cut short by the end time, is Partial.
    // Forward, [from, to); in reverse (time running backwards) (to, from].
    const forward = q.end >= q.start;
    const before = span === null || (forward ? hi <= span.first : hi < span.first);
    const after = span !== null && (forward ? lo > span.last : lo >= span.last);
    const partial = span !== null && (lo < span.first || hi > span.last || Math.abs(to - from) < width);
    const [a, b] = calc.range(lo, hi, forward);
    const r = calc.compute(q.aggregate, from, lo, hi, a, b, before, after);
    out.v[i] = r.value;
    out.s[i] = r.partialBit && partial && !isBadStatus(r.status) ? r.status | PARTIAL : r.status;
    if (r.time !== undefined) out.t[i] = r.time;
  }
  return out;
}

interface One {
  value: number;
  status: number;
  /** The timestamp, when not the interval's start (Start, End: the raw value's). */
  time?: number;
  /** The aggregate may carry the Partial bit (not Average, not Interpolative: Part 13 Tables). */
  partialBit: boolean;
}

const noData = (partialBit = true): One => ({ value: Number.NaN, status: BAD_NO_DATA, partialBit });

/** The per-interval arithmetic over one series. */
class IntervalCalc {
  constructor(
    private readonly x: Series,
    private readonly c: AggregateConfig,
    private readonly stepped: boolean,
  ) {}

  /** Usable in a calculation: Good, or Uncertain when TreatUncertainAsBad is false (Part 13 4.2.1.2). */
  private usable(i: number): boolean {
    const s = this.x.s[i]!;
    if (Number.isNaN(this.x.v[i]!)) return false;
    if (isBadStatus(s)) return false;
    return !isUncertainStatus(s) || !this.c.treatUncertainAsBad;
  }

  /** Index range [a, b) of the values in [lo, hi) (`loIncluded`) or (lo, hi]. */
  range(lo: number, hi: number, loIncluded: boolean): [number, number] {
    const a = loIncluded ? this.lowerBound(lo) : this.upperBound(lo);
    const b = loIncluded ? this.lowerBound(hi) : this.upperBound(hi);
    return [a, b];
  }

  /** First index with time >= t. */
  private lowerBound(t: number): number {
    let lo = 0;
    let hi = this.x.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.x.t[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index with time > t. */
  private upperBound(t: number): number {
    let lo = 0;
    let hi = this.x.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.x.t[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  compute(
    aggregate: AggregateName,
    from: number,
    lo: number,
    hi: number,
    a: number,
    b: number,
    before: boolean,
    after: boolean,
  ): One {
    if (aggregate === "Interpolative") {
      const bound = this.interpolated(from);
      return { ...bound, partialBit: false };
    }
    if (aggregate === "TimeAverage") return before ? noData() : this.timeAverage(lo, hi);
    if (before || after) return noData(aggregate !== "Average");
    switch (aggregate) {
      case "Average":
        return this.average(a, b);
      case "Count":
        return this.count(a, b);
      case "Minimum":
        return this.extreme(a, b, from, -1);
      case "Maximum":
        return this.extreme(a, b, from, 1);
      case "Start":
        return a < b ? this.raw(a) : noData();
      case "End":
        return a < b ? this.raw(b - 1) : noData();
      case "Delta":
        return this.delta(a, b);
    }
  }

  /**
   * PercentValues (Part 13 5.4.3.2.1, by counting values): Bad when the share of Bad values reaches
   * PercentDataBad, else Good when the share of usable ones reaches PercentDataGood, else
   * Uncertain_DataSubNormal; a used Uncertain value keeps the result Uncertain (4.2.1.2).
   */
  private byCount(n: number, used: number, usedUncertain: boolean): number {
    if (n === 0) return GOOD;
    if (((n - used) / n) * 100 >= this.c.percentDataBad) return BAD;
    if ((used / n) * 100 >= this.c.percentDataGood && !usedUncertain) return GOOD;
    return UNCERTAIN_DATA_SUB_NORMAL;
  }

  /** Part 13 5.4.3.5: the mean of the usable raw values; Partial not set. */
  private average(a: number, b: number): One {
    let sum = 0;
    let used = 0;
    let uncertain = false;
    for (let i = a; i < b; i++) {
      if (!this.usable(i)) continue;
      sum += this.x.v[i]!;
      used++;
      if (isUncertainStatus(this.x.s[i]!)) uncertain = true;
    }
    if (used === 0) return noData(false);
    return {
      value: sum / used,
      status: this.byCount(b - a, used, uncertain) | CALCULATED,
      partialBit: false,
    };
  }

  /** Part 13 5.4.3.21: the number of usable raw values; zero where there are none. */
  private count(a: number, b: number): One {
    let used = 0;
    let uncertain = false;
    for (let i = a; i < b; i++) {
      if (!this.usable(i)) continue;
      used++;
      if (isUncertainStatus(this.x.s[i]!)) uncertain = true;
    }
    return { value: used, status: this.byCount(b - a, used, uncertain) | CALCULATED, partialBit: true };
  }

  /**
   * Part 13 5.4.3.10 and 5.4.3.11: the smallest (sign -1) or largest usable raw value at the
   * interval's start time; Uncertain_DataSubNormal when non-Good values were passed over; Raw when
   * the value is the one at the start time, else Calculated; MultiValue when it occurs more than once.
   */
  private extreme(a: number, b: number, from: number, sign: -1 | 1): One {
    let best = Number.NaN;
    let at = -1;
    let times = 0;
    let skipped = false;
    for (let i = a; i < b; i++) {
      if (!this.usable(i)) {
        skipped = true;
        continue;
      }
      const v = this.x.v[i]!;
      if (isUncertainStatus(this.x.s[i]!)) skipped = true;
      if (at < 0 || (v - best) * sign > 0) {
        best = v;
        at = i;
        times = 1;
      } else if (v === best) times++;
    }
    if (at < 0) return noData();
    const onStart = this.x.t[at] === from && !skipped;
    let status = (skipped ? UNCERTAIN_DATA_SUB_NORMAL : GOOD) | (onStart ? RAW : CALCULATED);
    if (times > 1) status |= MULTI_VALUE;
    return { value: best, status, partialBit: true };
  }

  /** Part 13 5.4.3.25 and 5.4.3.26: a raw value with its own status and time, Raw bit. */
  private raw(i: number): One {
    return { value: this.x.v[i]!, status: this.x.s[i]! | RAW, time: this.x.t[i]!, partialBit: true };
  }

  /**
   * Part 13 5.4.3.27: latest minus earliest usable raw value (an energy counter's consumption in
   * the interval); Uncertain_DataSubNormal when non-Good values were passed over to find them.
   */
  private delta(a: number, b: number): One {
    let i = a;
    while (i < b && !this.usable(i)) i++;
    let j = b - 1;
    while (j >= i && !this.usable(j)) j--;
    if (i >= b) return noData();
    const skipped = i > a || j < b - 1 || isUncertainStatus(this.x.s[i]!) || isUncertainStatus(this.x.s[j]!);
    return {
      value: this.x.v[j]! - this.x.v[i]!,
      status: (skipped ? UNCERTAIN_DATA_SUB_NORMAL : GOOD) | CALCULATED,
      partialBit: true,
    };
  }

  /** The last usable value at or before index `i` (or -1), and whether Bad values lay between. */
  private usableBefore(i: number): number {
    while (i >= 0 && !this.usable(i)) i--;
    return i;
  }

  private usableAfter(i: number): number {
    while (i < this.x.n && !this.usable(i)) i++;
    return i < this.x.n ? i : -1;
  }

  /**
   * The Interpolated Bounding Value at `t` (Part 13 3.1.8), as the Interpolative aggregate returns it
   * (5.4.3.4): the usable raw value at `t` (Raw), else interpolated between the usable values around
   * it (sloped, or the one before when Stepped), else extrapolated from the values before it
   * (Uncertain_DataSubNormal); Bad_NoData with no usable value before. `slopedAlways`: TimeAverage's
   * bounds are sloped whatever Stepped says (5.4.3.6).
   */
  interpolated(t: number, slopedAlways = false): { value: number; status: number } {
    const sloped = slopedAlways || !this.stepped;
    const at = this.lowerBound(t);
    // Several values at one time: the last one stands (what the variable showed).
    let exact = -1;
    for (let i = at; i < this.x.n && this.x.t[i] === t; i++) if (this.usable(i)) exact = i;
    if (exact >= 0) {
      const s = this.x.s[exact]!;
      return {
        value: this.x.v[exact]!,
        status: (isUncertainStatus(s) ? UNCERTAIN_DATA_SUB_NORMAL : GOOD) | RAW,
      };
    }
    const before = this.usableBefore(at - 1);
    if (before < 0) return { value: Number.NaN, status: BAD_NO_DATA };
    const after = this.usableAfter(at);
    const vb = this.x.v[before]!;
    const tb = this.x.t[before]!;
    let uncertain = isUncertainStatus(this.x.s[before]!);
    if (after < 0) {
      // Past the last usable value: extrapolated, always Uncertain (3.1.8).
      let value = vb;
      if (sloped && this.c.useSlopedExtrapolation) {
        const prior = this.usableBefore(before - 1);
        if (prior >= 0 && this.x.t[prior]! < tb)
          value = vb + ((t - tb) * (vb - this.x.v[prior]!)) / (tb - this.x.t[prior]!);
      }
      return { value, status: UNCERTAIN_DATA_SUB_NORMAL | INTERPOLATED };
    }
    // Bad values skipped between the two (stepped: after the one before, up to t) make it Uncertain.
    const skipped = sloped ? after - before > 1 : this.upperBound(t) - 1 > before;
    if (sloped) uncertain ||= isUncertainStatus(this.x.s[after]!);
    const ta = this.x.t[after]!;
    const value = sloped && ta > tb ? vb + ((t - tb) * (this.x.v[after]! - vb)) / (ta - tb) : vb;
    return { value, status: (skipped || uncertain ? UNCERTAIN_DATA_SUB_NORMAL : GOOD) | INTERPOLATED };
  }

  /**
   * Part 13 5.4.3.6: the area under straight lines from the interpolated bound at `lo` through the
   * usable raw values to the bound at `hi`, over the interval's width. No start bound (before the
   * first value): the partial interval from the first value on. Uncertain when Bad values were
   * skipped, Uncertain ones used, or the end extrapolated.
   */
  private timeAverage(lo: number, hi: number): One {
    const start = this.interpolated(lo, true);
    const end = this.interpolated(hi, true);
    let t0 = lo;
    let v0 = start.value;
    let a = this.lowerBound(lo);
    const b = this.lowerBound(hi);
    let uncertain = false;
    if (isBadStatus(start.status)) {
      a = this.usableAfter(a);
      if (a < 0 || a >= b) return noData();
      t0 = this.x.t[a]!;
      v0 = this.x.v[a]!;
      a++;
    } else if (severity(start.status) === 1) uncertain = true;
    if (severity(end.status) === 1) uncertain = true;
    let area = 0;
    for (let i = a; i < b; i++) {
      if (!this.usable(i)) {
        uncertain = true;
        continue;
      }
      const t1 = this.x.t[i]!;
      const v1 = this.x.v[i]!;
      if (isUncertainStatus(this.x.s[i]!)) uncertain = true;
      area += ((v0 + v1) / 2) * (t1 - t0);
      t0 = t1;
      v0 = v1;
    }
    area += ((v0 + end.value) / 2) * (hi - t0);
    const covered = hi - (isBadStatus(start.status) ? this.firstUsableTime(lo) : lo);
    return {
      value: area / covered,
      status: (uncertain ? UNCERTAIN_DATA_SUB_NORMAL : GOOD) | CALCULATED,
      partialBit: true,
    };
  }

  private firstUsableTime(from: number): number {
    return this.x.t[this.usableAfter(this.lowerBound(from))]!;
  }

  /**
   * A value at `t` from Simple Bounding Values (Part 13 3.1.9), for ReadAtTime with useSimpleBounds:
   * the raw value at `t` whatever its status (Raw), else from the raw values just before and after
   * it whatever their status, stepped or sloped; a Bad one before gives Bad_NoData, a non-Good one
   * on either side Uncertain_DataSubNormal, none after the one before held (Uncertain).
   */
  simple(t: number): { value: number; status: number } {
    const at = this.lowerBound(t);
    let last = -1;
    for (let i = at; i < this.x.n && this.x.t[i] === t; i++) last = i;
    if (last >= 0) return { value: this.x.v[last]!, status: this.x.s[last]! | RAW };
    const before = at - 1;
    if (before < 0 || isBadStatus(this.x.s[before]!) || Number.isNaN(this.x.v[before]!))
      return { value: Number.NaN, status: BAD_NO_DATA };
    const vb = this.x.v[before]!;
    const after = at < this.x.n ? at : -1;
    if (after < 0) return { value: vb, status: UNCERTAIN_DATA_SUB_NORMAL | INTERPOLATED };
    const sa = this.x.s[after]!;
    const uncertain = this.x.s[before] !== GOOD || (!this.stepped && sa !== GOOD);
    let value = vb;
    if (!this.stepped && !isBadStatus(sa) && !Number.isNaN(this.x.v[after]!)) {
      const tb = this.x.t[before]!;
      value = vb + ((t - tb) * (this.x.v[after]! - vb)) / (this.x.t[after]! - tb);
    }
    return { value, status: (uncertain ? UNCERTAIN_DATA_SUB_NORMAL : GOOD) | INTERPOLATED };
  }
}

/**
 * ReadAtTime (Part 11 6.4.5): a value per requested time, in the request's order: the raw value at
 * that time (Raw) or one interpolated as the Interpolative aggregate does (Interpolated), from
 * Simple Bounding Values when `simpleBounds`, else Interpolated Bounding Values.
 */
export function computeAtTimes(
  series: Series,
  times: readonly number[],
  simpleBounds: boolean,
  stepped: boolean,
  config: AggregateConfig,
): AggregateValues {
  const calc = new IntervalCalc(series, config, stepped);
  const n = times.length;
  const out: AggregateValues = {
    n,
    t: Float64Array.from(times),
    v: new Float64Array(n),
    s: new Uint32Array(n),
  };
  for (let i = 0; i < n; i++) {
    const r = simpleBounds ? calc.simple(times[i]!) : calc.interpolated(times[i]!);
    out.v[i] = r.value;
    out.s[i] = r.status;
  }
  return out;
}
