import { describe, expect, it } from "vitest";
import { CommandDevice } from "../../scripts/simulator/command-device.js";
import {
  type AlarmRule,
  alarmRules,
  type CompiledPoint,
  compilePoint,
  DEFAULT_PARAMS,
  encodePayload,
  type FeederState,
  harmonicMagnitude,
  hysteresis,
  initLineup,
  type LineupInfo,
  type LineupState,
  type ModelParams,
  mulberry32,
  publishClass,
  stepLineup,
  topicFor,
  type Value,
} from "../../scripts/simulator/lineup-model.js";
import { loadCatalog } from "../../src/model/catalog-loader.js";
import type { PointDef } from "../../src/model/catalog-types.js";

const catalog = loadCatalog();
const rules = alarmRules(catalog.points);
const compiled = catalog.points.map((p) => compilePoint(p));
const INFO: LineupInfo = {
  lineupName: "Lineup A",
  deviceType: "3WA",
  source: "ETU",
  groupType: "50",
  groupSource: "PM",
  startMs: Date.parse("2025-06-01T00:00:00Z"),
};

/** Runs a lineup for steps × dtS seconds and hands every state (the initial one included) to `visit`. */
function run(
  devices: number,
  steps: number,
  dtS: number,
  visit: (s: LineupState, step: number) => void,
  seed = 7,
): LineupState {
  const rng = mulberry32(seed);
  let state = initLineup(INFO, devices, rules, rng);
  visit(state, 0);
  for (let i = 1; i <= steps; i++) {
    state = stepLineup(state, dtS, rng);
    visit(state, i);
  }
  return state;
}

const point = (topicId: string): CompiledPoint => {
  const c = compiled.find((x) => x.point.topicId === topicId);
  if (!c) throw new Error(`no point ${topicId} in the catalog`);
  return c;
};

const INTEGER_TYPES = new Set(["Byte", "SByte", "UInt16", "Int16", "UInt32", "Int32", "UInt64", "Int64"]);
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function typeProblem(p: PointDef, v: Value): string | null {
  switch (p.dataType) {
    case "Boolean":
      return typeof v === "boolean" ? null : "not a boolean";
    case "String":
      return typeof v === "string" ? null : "not a string";
    case "DateTime":
      return typeof v === "string" && ISO_8601.test(v) && !Number.isNaN(Date.parse(v))
        ? null
        : "not an ISO 8601 date";
    default:
      if (typeof v !== "number" || !Number.isFinite(v)) return "not a finite number";
      if (INTEGER_TYPES.has(p.dataType) && !Number.isInteger(v)) return "not an integer";
      if (p.dataType.startsWith("U") && v < 0) return "negative for an unsigned type";
      return null;
  }
}

describe("lineup model", () => {
  it("gives every catalog point a value of its dataType, within its range", () => {
    const problems = new Set<string>();
    run(6, 120, 60, (s) => {
      for (const f of s.feeders)
        for (const c of compiled) {
          const v = c.value(f, s);
          const bad = typeProblem(c.point, v);
          if (bad) problems.add(`${c.point.topicId} (${c.point.dataType}): ${JSON.stringify(v)} ${bad}`);
          const r = c.point.range;
          if (r && typeof v === "number" && (v < r.low || v > r.high))
            problems.add(`${c.point.topicId}: ${v} outside [${r.low}, ${r.high}]`);
        }
    });
    expect([...problems]).toEqual([]);
  });

  it("recognises every point of the shipped catalog (none falls back to a generic value)", () => {
    expect(compiled.filter((c) => c.kind === "fallback").map((c) => c.point.topicId)).toEqual([]);
  });

  it("still gives a typed value to a point it does not know", () => {
    const unknown: PointDef = {
      ...point("11/21").point,
      topicId: "11/15",
      id: 15,
      browseName: "Mystery",
      folder: ["PowerQuality", "Unknown"],
      dataType: "UInt16",
      range: { low: 0, high: 100 },
    };
    const c = compilePoint(unknown);
    const s = run(1, 0, 1, () => {});
    expect(c.kind).toBe("fallback");
    expect(c.value(s.feeders[0]!, s)).toBe(50);
  });

  it("never lets an energy counter decrease, and imported energy grows with load", () => {
    const counters = compiled.filter((c) => ["Wh", "varh", "VAh"].includes(c.point.unit?.key ?? ""));
    expect(counters.length).toBe(48);
    const previous = new Map<string, number>();
    const decreases: string[] = [];
    let first = 0;
    let last = 0;
    run(4, 360, 10, (s) => {
      for (const f of s.feeders)
        for (const c of counters) {
          const v = c.value(f, s) as number;
          const key = `${f.name} ${c.point.topicId}`;
          const before = previous.get(key);
          if (before !== undefined && v < before) decreases.push(`${key}: ${before} → ${v}`);
          previous.set(key, v);
        }
      const total = point("11/101").value(s.feeders[0]!, s) as number;
      if (first === 0) first = total;
      last = total;
    });
    expect(decreases).toEqual([]);
    expect(last).toBeGreaterThan(first);
  });

  it("never shows less apparent than active energy on a phase", () => {
    const s = run(5, 60, 60, () => {});
    for (const f of s.feeders)
      for (const [active, apparent] of [
        ["11/98", "11/130"],
        ["11/99", "11/131"],
        ["11/100", "11/132"],
        ["11/101", "11/133"],
      ] as const)
        expect(point(apparent).value(f, s) as number).toBeGreaterThan(point(active).value(f, s) as number);
  });

  it("integrates active energy as power over time (Wh = W · h)", () => {
    const rng = mulberry32(3);
    const s0 = initLineup(INFO, 1, rules, rng);
    const s1 = stepLineup(s0, 3600, rng);
    const f = s1.feeders[0]!;
    const gained =
      (point("11/101").value(f, s1) as number) - (point("11/101").value(s0.feeders[0]!, s0) as number);
    const power = point("11/49").value(f, s1) as number;
    expect(gained).toBeCloseTo(power, -1);
  });

  it("publishes a consistent three-phase system: 230/400 V, 50 Hz, P = V·I·PF", () => {
    const s = run(3, 30, 60, () => {});
    for (const f of s.feeders) {
      const v = (id: string) => point(id).value(f, s) as number;
      expect(v("11/5")).toBeGreaterThan(220);
      expect(v("11/5")).toBeLessThan(240);
      expect(v("11/1")).toBeGreaterThan(380);
      expect(v("11/1")).toBeLessThan(420);
      expect(v("11/87")).toBeCloseTo(50, 0);
      expect(v("11/68")).toBeGreaterThanOrEqual(0.9);
      expect(v("11/68")).toBeLessThanOrEqual(0.98);
      // Within the rounding of the published values (PF to 0.001).
      expect(Math.abs(v("11/46") / (v("11/5") * v("11/21") * v("11/68")) - 1)).toBeLessThan(1e-3);
      expect(v("11/49")).toBeCloseTo(v("11/46") + v("11/47") + v("11/48"), 0);
      expect(v("11/21")).toBeLessThanOrEqual(f.breaker.ratingA * 1.2);
    }
  });

  it("makes harmonic magnitudes fall with order and add up to the THD", () => {
    const thd = 5;
    const m = (order: number) => harmonicMagnitude(thd, order);
    expect(m(1)).toBe(100);
    for (let h = 5; h <= 49; h += 2) expect(m(h), `H${h} below H${h - 2}`).toBeLessThan(m(h - 2));
    for (let h = 4; h <= 50; h += 2) expect(m(h), `H${h} below H${h - 2}`).toBeLessThan(m(h - 2));
    for (let h = 2; h <= 50; h += 2) expect(m(h), `even H${h} below odd H${h - 1}`).toBeLessThan(m(h - 1));
    let squares = 0;
    for (let h = 2; h <= 50; h++) squares += m(h) ** 2;
    expect(Math.sqrt(squares)).toBeCloseTo(thd, 6);
  });

  it("keeps conductor temperatures above ambient and following the current", () => {
    const s = run(5, 120, 60, () => {});
    for (const f of s.feeders) {
      const t = point("48/50").value(f, s) as number;
      const ambient = point("48/53").value(f, s) as number;
      expect(t).toBeGreaterThan(ambient);
      expect(point("48/31").value(f, s)).toBeCloseTo(t - ambient, 1);
    }
    // The heavily loaded feeder (Feeder 01, poor phase-1 connection) runs hotter than a light one.
    const [hot, ...rest] = s.feeders;
    const cool = rest.reduce((a, b) => (a.load < b.load ? a : b));
    expect(point("48/50").value(hot!, s) as number).toBeGreaterThan(point("48/50").value(cool, s) as number);
  });
});

describe("alarm flags", () => {
  it("switch with hysteresis: rise at the threshold, fall only below the clear level", () => {
    expect(hysteresis(false, 89.9, 90, 85)).toBe(false);
    expect(hysteresis(false, 90, 90, 85)).toBe(true);
    expect(hysteresis(true, 87, 90, 85)).toBe(true);
    expect(hysteresis(true, 85.1, 90, 85)).toBe(true);
    expect(hysteresis(true, 85, 90, 85)).toBe(false);
    expect(hysteresis(false, 87, 90, 85)).toBe(false);
  });

  it("derives one rule per alarm point of the catalog, from its label", () => {
    const byId = Object.fromEntries(rules.map((r) => [r.topicId, r]));
    expect(Object.keys(byId).sort()).toEqual(
      catalog.points
        .filter((p) => p.alarm)
        .map((p) => p.topicId)
        .sort(),
    );
    expect(byId["48/1"]).toMatchObject({ signal: "temperature", phase: 0, raise: 90, clear: 85 });
    expect(byId["48/3"]).toMatchObject({ signal: "loadPct", phase: 0, raise: 95, clear: 90 });
    expect(byId["48/4"]).toMatchObject({ signal: "loadPct", phase: 0, raise: 80, clear: 75 });
  });

  it("rise when temperature or current passes its threshold and fall with hysteresis", () => {
    // A steady load walk (no noise) up to 110 % of rating, then back down to 50 %.
    const params: ModelParams = { ...DEFAULT_PARAMS, loadStd: 0, loadTauS: 300 };
    const rng = mulberry32(11);
    let state = initLineup(INFO, 1, rules, rng, params);
    const withLoad = (s: LineupState, nominalLoad: number): LineupState => ({
      ...s,
      feeders: s.feeders.map((f) => ({ ...f, nominalLoad, load: Math.min(f.load, 0.5) })),
    });
    const signal = (f: FeederState, r: AlarmRule) =>
      r.signal === "temperature" ? f.temperatureC[r.phase] : (f.currentA[r.phase] / f.breaker.ratingA) * 100;

    state = withLoad(state, 0.5);
    for (let i = 0; i < 200; i++) state = stepLineup(state, 30, rng); // settle cool
    const seen: Record<string, { rose: number; held: number; fell: number }> = {};
    for (const r of rules) {
      seen[r.topicId] = { rose: 0, held: 0, fell: 0 };
      expect(point(r.topicId).value(state.feeders[0]!, state)).toBe(false);
    }
    const phases: [number, number][] = [
      [1.1, 300],
      [0.5, 300],
    ];
    for (const [load, steps] of phases) {
      state = { ...state, feeders: state.feeders.map((f) => ({ ...f, nominalLoad: load })) };
      for (let i = 0; i < steps; i++) {
        const before = state.feeders[0]!;
        state = stepLineup(state, 10, rng);
        const f = state.feeders[0]!;
        for (const r of rules) {
          const was = before.alarms[r.topicId] ?? false;
          const is = point(r.topicId).value(f, state);
          const v = signal(f, r);
          expect(is, `${r.topicId} at ${v.toFixed(2)} (was ${was})`).toBe(
            hysteresis(was, v, r.raise, r.clear),
          );
          const s = seen[r.topicId]!;
          if (!was && is) {
            expect(v).toBeGreaterThanOrEqual(r.raise);
            s.rose++;
          }
          if (was && !is) {
            expect(v).toBeLessThanOrEqual(r.clear);
            s.fell++;
          }
          if (was && is && v < r.raise) s.held++;
        }
      }
    }
    for (const r of rules) {
      const s = seen[r.topicId]!;
      expect(s.rose, `${r.topicId} rose`).toBeGreaterThanOrEqual(1);
      expect(s.fell, `${r.topicId} fell`).toBeGreaterThanOrEqual(1);
      expect(s.held, `${r.topicId} held inside the hysteresis band`).toBeGreaterThanOrEqual(1);
    }
  });
});

describe("publishing", () => {
  it("retains inspection settings and serial numbers once, alarms and status always", () => {
    const cls = (id: string) => publishClass(point(id).point);
    for (let id = 7; id <= 22; id++) expect(cls(`21/${id}`), `21/${id}`).toBe("static");
    expect(cls("48/0")).toBe("status");
    for (const r of rules) expect(cls(r.topicId)).toBe("status");
    expect(cls("11/21")).toBe("measurement");
    expect(cls("11/101")).toBe("measurement");
    expect(cls("48/50")).toBe("measurement");
  });

  it("publishes breakers under their device triple and PM points under the group", () => {
    const s = run(12, 0, 1, () => {});
    expect(topicFor(point("11/21").point, s.feeders[0]!, s.info)).toBe("11/21/3WA/Feeder 01/ETU");
    expect(topicFor(point("21/14").point, s.feeders[11]!, s.info)).toBe("21/14/3WA/Feeder 12/ETU");
    expect(topicFor(point("48/1").point, s.feeders[0]!, s.info)).toBe("48/1/50/Group 01/PM");
  });

  it("numbers a second lineup's feeders and groups after the first's, so that both share a broker", () => {
    const s = initLineup({ ...INFO, firstDevice: 99 }, 2, rules, mulberry32(7));
    expect(s.feeders.map((f) => [f.name, f.group])).toEqual([
      ["Feeder 099", "Group 099"],
      ["Feeder 100", "Group 100"],
    ]);
    expect(topicFor(point("48/1").point, s.feeders[1]!, s.info)).toBe("48/1/50/Group 100/PM");
  });

  it("publishes the group config as JSON text naming the alarm thresholds", () => {
    const s = run(1, 0, 1, () => {});
    const text = point("48/0").value(s.feeders[0]!, s);
    expect(typeof text).toBe("string");
    const config = JSON.parse(text as string);
    expect(config.group).toBe("Group 01");
    expect(config.alarms.map((a: { id: string }) => a.id)).toEqual(rules.map((r) => r.topicId));
  });

  it("encodes a plain text scalar", () => {
    const ts = "2025-06-01T12:00:00.000Z";
    expect(encodePayload("plain", { topicId: "11/5", value: 230.41, ts })).toBe("230.41");
    expect(encodePayload("plain", { topicId: "48/1", value: true, ts })).toBe("true");
    expect(encodePayload("plain", { topicId: "21/14", value: "RW2412345678", ts })).toBe("RW2412345678");
  });

  it("encodes a JSON scalar", () => {
    const ts = "2025-06-01T12:00:00.000Z";
    expect(encodePayload("json", { topicId: "11/5", value: 230.41, ts })).toBe("230.41");
    expect(encodePayload("json", { topicId: "48/1", value: false, ts })).toBe("false");
    expect(encodePayload("json", { topicId: "21/14", value: "RW24", ts })).toBe('"RW24"');
  });

  it("encodes the object shape with value, ts, quality and, when asked, seq", () => {
    const ts = "2025-06-01T12:00:00.000Z";
    expect(JSON.parse(encodePayload("object", { topicId: "11/21", value: 812.5, ts }))).toEqual({
      value: 812.5,
      ts,
      quality: "good",
    });
    expect(JSON.parse(encodePayload("object", { topicId: "11/21", value: 812.5, ts, seq: 42 }))).toEqual({
      value: 812.5,
      ts,
      quality: "good",
      seq: 42,
    });
  });

  it("encodes the Industrial Edge Databus shape with id, qc, ts and val", () => {
    const ts = "2025-06-01T12:00:00.000Z";
    const doc = JSON.parse(encodePayload("vals", { topicId: "48/50", value: 41.27, ts, seq: 7 }));
    expect(doc).toEqual({ seq: 7, vals: [{ id: "48/50", qc: 3, ts, val: 41.27 }] });
  });

  it("gives the same lineup for the same seed", () => {
    const a = run(3, 10, 5, () => {}, 99);
    const b = run(3, 10, 5, () => {}, 99);
    const values = (s: LineupState) => s.feeders.flatMap((f) => compiled.map((c) => c.value(f, s)));
    expect(values(a)).toEqual(values(b));
  });
});

describe("the simulated devices' commands", () => {
  const FEEDER = "3WA/Feeder 01/ETU";
  const command = (commandId: string | undefined, extra: Record<string, unknown> = {}) => ({
    topic: `cmd/11/0/${FEEDER}`,
    payload: Buffer.from(JSON.stringify({ commandId, command: "ResetMaxValues", scope: "All", ...extra })),
  });
  const at = (ms: number) => () => new Date(Date.UTC(2026, 10, 29, 0, 0, 0, ms));
  const body = (a: { payload: string } | null) => JSON.parse(a!.payload) as Record<string, unknown>;

  it("answers a commandId it has seen with the first result, to each request's own reply topic (MQTT 5)", () => {
    const device = new CommandDevice(new Set([FEEDER]), 10, at(1));
    const first = device.handle({
      ...command("c-1"),
      responseTopic: "reply/gw-a/x",
      correlationData: Buffer.from("A"),
    });
    // The same command again, through the other member of a redundant pair.
    const retry = device.handle({
      ...command("c-1"),
      responseTopic: "reply/gw-b/x",
      correlationData: Buffer.from("B"),
    });
    expect(first).toMatchObject({ topic: "reply/gw-a/x", correlationData: Buffer.from("A") });
    expect(retry).toMatchObject({ topic: "reply/gw-b/x", correlationData: Buffer.from("B") });
    expect(body(retry)).toEqual(body(first));
    expect(body(first)).toEqual({
      commandId: "c-1",
      status: "ok",
      command: "ResetMaxValues",
      execution: 1,
      executedAt: "2026-11-29T00:00:00.001Z",
    });
    expect([device.executed, device.duplicates]).toEqual([1, 1]);
  });

  it("echoes the correlationId of each request under MQTT 3.1.1, where replyTo is in the payload", () => {
    const device = new CommandDevice(new Set([FEEDER]));
    const a = device.handle(command("c-1", { replyTo: "reply/gw/3WA/Feeder 01/ETU", correlationId: "aa" }));
    const b = device.handle(command("c-1", { replyTo: "reply/gw/3WA/Feeder 01/ETU", correlationId: "bb" }));
    expect(a?.topic).toBe("reply/gw/3WA/Feeder 01/ETU");
    expect([body(a).correlationId, body(b).correlationId]).toEqual(["aa", "bb"]);
    expect(body(b).execution).toBe(1);
    expect(device.executed).toBe(1);
  });

  it("remembers a bounded number of commandIds, the oldest forgotten first", () => {
    const device = new CommandDevice(new Set([FEEDER]), 3);
    for (const id of ["c-1", "c-2", "c-3", "c-4"]) device.handle(command(id));
    device.handle(command("c-4"));
    expect([device.executed, device.duplicates]).toEqual([4, 1]);
    // c-1 left the memory when c-4 came: beyond the window a resend is carried out again.
    device.handle(command("c-1"));
    expect([device.executed, device.duplicates]).toEqual([5, 1]);
  });

  it("leaves other devices' commands alone and refuses one without a commandId, never carrying it out", () => {
    const device = new CommandDevice(new Set([FEEDER]));
    expect(device.handle({ ...command("c-1"), topic: "cmd/11/0/3WA/Feeder 05/ETU" })).toBeNull();
    expect(device.handle({ ...command("c-1"), topic: "cmd/11/0/3WA/Feeder 01" })).toBeNull();
    const refused = device.handle({ ...command(undefined), responseTopic: "r" });
    expect(body(refused)).toMatchObject({ commandId: null, status: "error" });
    expect(
      device.handle({ topic: `cmd/11/0/${FEEDER}`, payload: Buffer.from("{"), responseTopic: "r" }),
    ).toMatchObject({
      topic: "r",
    });
    expect(
      device.handle({ ...command("w-1"), topic: `cmd/11/5/${FEEDER}/set`, responseTopic: "r" }),
    ).not.toBeNull();
    expect([device.executed, device.refused]).toEqual([1, 2]);
  });
});
