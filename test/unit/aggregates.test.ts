import { StatusCodes } from "node-opcua";
import { describe, expect, it } from "vitest";
import {
  type AggregateConfig,
  type AggregateName,
  BAD,
  BAD_NO_DATA,
  CALCULATED,
  computeAggregate,
  computeAtTimes,
  DEFAULT_AGGREGATE_CONFIG,
  GOOD,
  GOOD_NO_DATA,
  INTERPOLATED,
  intervalAt,
  intervalCount,
  MULTI_VALUE,
  PARTIAL,
  RAW,
  type Series,
  UNCERTAIN_DATA_SUB_NORMAL,
} from "../../src/mapping/aggregates.js";

const S = 1000;
const UNCERTAIN = 0x40000000;

/**
 * A small known series (seconds): 10 at 0, 20 at 10, a Bad 999 at 20, 40 at 30, a gap, 50 at 60,
 * an Uncertain 60 at 70. Intervals of 20 s from 0 to 90: [0,20) [20,40) [40,60) [60,80) [80,90).
 */
const rows: [number, number, number][] = [
  [0, 10, GOOD],
  [10, 20, GOOD],
  [20, 999, BAD],
  [30, 40, GOOD],
  [60, 50, GOOD],
  [70, 60, UNCERTAIN],
];
const series: Series = {
  n: rows.length,
  t: Float64Array.from(rows.map((r) => r[0] * S)),
  v: Float64Array.from(rows.map((r) => r[1])),
  s: Uint32Array.from(rows.map((r) => r[2])),
};
const span = { first: 0, last: 70 * S };

function run(aggregate: AggregateName, config: Partial<AggregateConfig> = {}, stepped = false) {
  const query = {
    aggregate,
    start: 0,
    end: 90 * S,
    interval: 20 * S,
    config: { ...DEFAULT_AGGREGATE_CONFIG, ...config },
    stepped,
  };
  const out = computeAggregate(series, query, span, 0, intervalCount(query));
  return Array.from({ length: out.n }, (_, i) => ({
    t: out.t[i]! / S,
    v: Number.isNaN(out.v[i]!) ? null : Math.round(out.v[i]! * 1000) / 1000,
    s: out.s[i]!,
  }));
}

describe("Part 13 aggregates over a known series with a gap, a Bad and an Uncertain value", () => {
  it("uses node-opcua's StatusCode values and the Part 4 historian info bits", () => {
    expect(GOOD_NO_DATA).toBe(StatusCodes.GoodNoData.value);
    expect(BAD_NO_DATA).toBe(StatusCodes.BadNoData.value);
    expect(UNCERTAIN_DATA_SUB_NORMAL).toBe(StatusCodes.UncertainDataSubNormal.value);
    expect([RAW, CALCULATED, INTERPOLATED, PARTIAL, MULTI_VALUE]).toEqual([
      0x400, 0x401, 0x402, 0x404, 0x410,
    ]);
  });

  it("makes the intervals of Part 13 Table 12: the rest last, none for an empty range, backwards when start > end", () => {
    expect(intervalCount({ start: 0, end: 90, interval: 20 })).toBe(5);
    expect(intervalAt({ start: 0, end: 90, interval: 20 }, 4)).toEqual([80, 90]);
    expect(intervalCount({ start: 0, end: 90, interval: 0 })).toBe(1);
    expect(intervalCount({ start: 5, end: 5, interval: 1 })).toBe(0);
    expect(intervalAt({ start: 90, end: 0, interval: 20 }, 1)).toEqual([70, 50]);
  });

  it("runs backwards when the start is after the end: (70,90], (50,70], ... each including its later end (Table 12)", () => {
    const query = {
      aggregate: "Count" as const,
      start: 90 * S,
      end: 0,
      interval: 20 * S,
      config: DEFAULT_AGGREGATE_CONFIG,
      stepped: false,
    };
    const out = computeAggregate(series, query, span, 0, intervalCount(query));
    expect(
      Array.from({ length: out.n }, (_, i) => [
        out.t[i]! / S,
        Number.isNaN(out.v[i]!) ? null : out.v[i],
        out.s[i],
      ]),
    ).toEqual([
      [90, null, BAD_NO_DATA],
      [70, 1, UNCERTAIN_DATA_SUB_NORMAL | CALCULATED],
      [50, 0, GOOD | CALCULATED],
      [30, 1, UNCERTAIN_DATA_SUB_NORMAL | CALCULATED],
      [10, 1, GOOD | CALCULATED | PARTIAL],
    ]);
  });

  it("Average: the mean of Good values, Uncertain by PercentDataGood, Bad_NoData in the gap and after the data, never Partial", () => {
    expect(run("Average")).toEqual([
      { t: 0, v: 15, s: GOOD | CALCULATED },
      { t: 20, v: 40, s: UNCERTAIN_DATA_SUB_NORMAL | CALCULATED },
      { t: 40, v: null, s: BAD_NO_DATA },
      { t: 60, v: 50, s: UNCERTAIN_DATA_SUB_NORMAL | CALCULATED },
      { t: 80, v: null, s: BAD_NO_DATA },
    ]);
    // Half the values Good meets PercentDataGood 50; half Bad reaches PercentDataBad 50.
    expect(run("Average", { percentDataGood: 50 })[1]!.s).toBe(GOOD | CALCULATED);
    expect(run("Average", { percentDataBad: 50 })[1]!.s).toBe((BAD | CALCULATED) >>> 0);
    // TreatUncertainAsBad false: the Uncertain 60 is used, and the result stays Uncertain.
    expect(run("Average", { treatUncertainAsBad: false })[3]).toEqual({
      t: 60,
      v: 55,
      s: UNCERTAIN_DATA_SUB_NORMAL | CALCULATED,
    });
  });

  it("Count: Good values counted, zero in the gap, Partial where the data ends", () => {
    expect(run("Count").map((r) => [r.v, r.s])).toEqual([
      [2, GOOD | CALCULATED],
      [1, UNCERTAIN_DATA_SUB_NORMAL | CALCULATED],
      [0, GOOD | CALCULATED],
      [1, UNCERTAIN_DATA_SUB_NORMAL | CALCULATED | PARTIAL],
      [null, BAD_NO_DATA],
    ]);
  });

  it("Minimum and Maximum: Raw on the start time, else Calculated; Uncertain when non-Good values were passed over", () => {
    expect(run("Minimum").map((r) => [r.t, r.v, r.s])).toEqual([
      [0, 10, GOOD | RAW],
      [20, 40, UNCERTAIN_DATA_SUB_NORMAL | CALCULATED],
      [40, null, BAD_NO_DATA],
      [60, 50, UNCERTAIN_DATA_SUB_NORMAL | CALCULATED | PARTIAL],
      [80, null, BAD_NO_DATA],
    ]);
    expect(run("Maximum")[0]).toEqual({ t: 0, v: 20, s: GOOD | CALCULATED });
  });

  it("Minimum sets MultiValue when the minimum occurs twice", () => {
    const twice: Series = {
      n: 2,
      t: Float64Array.of(1, 2),
      v: Float64Array.of(5, 5),
      s: Uint32Array.of(0, 0),
    };
    const q = {
      aggregate: "Minimum" as const,
      start: 0,
      end: 10,
      interval: 0,
      config: DEFAULT_AGGREGATE_CONFIG,
      stepped: false,
    };
    expect(computeAggregate(twice, q, { first: 0, last: 10 }, 0, 1).s[0]).toBe(
      GOOD | CALCULATED | MULTI_VALUE,
    );
  });

  it("Start and End: the raw value with its own status and time, Raw bit", () => {
    expect(run("Start").map((r) => [r.t, r.v, r.s])).toEqual([
      [0, 10, GOOD | RAW],
      [20, 999, (BAD | RAW) >>> 0],
      [40, null, BAD_NO_DATA],
      [60, 50, GOOD | RAW | PARTIAL],
      [80, null, BAD_NO_DATA],
    ]);
    expect(run("End").map((r) => [r.t, r.v, r.s])).toEqual([
      [10, 20, GOOD | RAW],
      [30, 40, GOOD | RAW],
      [40, null, BAD_NO_DATA],
      [70, 60, UNCERTAIN | RAW | PARTIAL],
      [80, null, BAD_NO_DATA],
    ]);
  });

  it("Delta: latest minus earliest Good value, Uncertain when non-Good values were skipped to find them", () => {
    expect(run("Delta").map((r) => [r.v, r.s])).toEqual([
      [10, GOOD | CALCULATED],
      [0, UNCERTAIN_DATA_SUB_NORMAL | CALCULATED],
      [null, BAD_NO_DATA],
      [0, UNCERTAIN_DATA_SUB_NORMAL | CALCULATED | PARTIAL],
      [null, BAD_NO_DATA],
    ]);
  });

  it("Interpolative: Raw at a value's time, sloped across a Bad value (Uncertain) and a gap (Good), extrapolated after the data", () => {
    expect(run("Interpolative")).toEqual([
      { t: 0, v: 10, s: GOOD | RAW },
      { t: 20, v: 30, s: UNCERTAIN_DATA_SUB_NORMAL | INTERPOLATED },
      { t: 40, v: 43.333, s: GOOD | INTERPOLATED },
      { t: 60, v: 50, s: GOOD | RAW },
      { t: 80, v: 50, s: UNCERTAIN_DATA_SUB_NORMAL | INTERPOLATED },
    ]);
    // Stepped (a Boolean, an enumeration): the value before holds; the Bad value at 20 makes it Uncertain.
    expect(run("Interpolative", {}, true).map((r) => [r.v, r.s])).toEqual([
      [10, GOOD | RAW],
      [20, UNCERTAIN_DATA_SUB_NORMAL | INTERPOLATED],
      [40, GOOD | INTERPOLATED],
      [50, GOOD | RAW],
      [50, UNCERTAIN_DATA_SUB_NORMAL | INTERPOLATED],
    ]);
  });

  it("TimeAverage: the area under sloped lines between interpolated bounds over the interval", () => {
    // [40, 60): from the bound 43.333 (between 40 at 30 and 50 at 60) to 50 at 60.
    expect(run("TimeAverage")[2]).toEqual({ t: 40, v: 46.667, s: GOOD | CALCULATED });
    // [60, 80): 50 at 60, the Uncertain 60 at 70 passed over, extrapolated (stepped) to 80: Uncertain, Partial.
    expect(run("TimeAverage")[3]).toEqual({
      t: 60,
      v: 50,
      s: UNCERTAIN_DATA_SUB_NORMAL | CALCULATED | PARTIAL,
    });
  });

  it("at-time values (Part 11 6.4.5) from simple or interpolated bounds", () => {
    const at = (simple: boolean, stepped = false) => {
      const out = computeAtTimes(
        series,
        [5 * S, 20 * S, 25 * S, 65 * S, 100 * S, -5 * S],
        simple,
        stepped,
        DEFAULT_AGGREGATE_CONFIG,
      );
      return Array.from({ length: out.n }, (_, i) => [Number.isNaN(out.v[i]!) ? null : out.v[i], out.s[i]]);
    };
    expect(at(true)).toEqual([
      [15, GOOD | INTERPOLATED],
      [999, (BAD | RAW) >>> 0],
      [null, BAD_NO_DATA],
      [55, UNCERTAIN_DATA_SUB_NORMAL | INTERPOLATED],
      [60, UNCERTAIN_DATA_SUB_NORMAL | INTERPOLATED],
      [null, BAD_NO_DATA],
    ]);
    expect(at(true, true)[0]).toEqual([10, GOOD | INTERPOLATED]);
    // Interpolated bounds skip the Bad value: 25 lies between 20 at 10 and 40 at 30.
    expect(at(false)[2]).toEqual([35, UNCERTAIN_DATA_SUB_NORMAL | INTERPOLATED]);
    expect(at(false)[5]).toEqual([null, BAD_NO_DATA]);
  });
});
