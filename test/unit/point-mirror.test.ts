import { Writable } from "node:stream";
import { type StatusCode, StatusCodes } from "node-opcua";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import winston from "winston";
import { PointMirror } from "../../src/bridge/point-mirror.js";
import { buildConfig } from "../../src/config/config-loader.js";
import { IngestCounters } from "../../src/mapping/counters.js";
import { loadCatalog } from "../../src/model/catalog-loader.js";
import type { PointSink, PointValue } from "../../src/opcua/ports.js";
import { parseYamlText } from "../../src/shared/yaml-source.js";

/**
 * The point state machine (waiting, fresh, stale, decodeError, connectionLost, refused) without a
 * server: PointMirror writes through a PointSink, here one that records each write. The expected
 * statuses are the README's "Status codes" table (src/mapping/point-status.ts), OPC UA Part 8, 6.3.
 */

const catalog = loadCatalog();
const DEVICE = "3WA/Feeder 01/ETU";
const VOLTAGE = `11/5/${DEVICE}`; // Voltage L1, Double
const CURRENT = `11/6/${DEVICE}`;

interface Write {
  value: PointValue;
  status: StatusCode;
  sourceTimestamp: Date | null;
  serverTime: Date;
}

interface RecordedVariable {
  topic: string;
  writes: Write[];
}

type Sink = PointSink<string, RecordedVariable, PointValue>;
type DeviceId = Parameters<Sink["device"]>[0];

/** Records what the mirror creates and writes; `failOn` makes the write of one topic throw (a bug). */
class RecordingSink implements Sink {
  readonly variables = new Map<string, RecordedVariable>();
  failOn = "";

  device(id: DeviceId): string {
    return `${id.deviceType}/${id.deviceName}/${id.deviceSource}`;
  }

  variable(_device: string, _id: DeviceId, _point: unknown, topic: string): RecordedVariable {
    const variable = { topic, writes: [] };
    this.variables.set(topic, variable);
    return variable;
  }

  value(_dataType: unknown, value: PointValue): PointValue {
    return value;
  }

  write(
    variable: RecordedVariable,
    value: PointValue,
    status: StatusCode,
    sourceTimestamp: Date | null,
    serverTime: Date,
  ): void {
    if (variable.topic === this.failOn) throw new TypeError("the sink failed");
    variable.writes.push({ value, status, sourceTimestamp, serverTime });
  }

  writes(topic: string): Write[] {
    return this.variables.get(topic)?.writes ?? [];
  }

  last(topic: string): Write | undefined {
    return this.writes(topic).at(-1);
  }
}

/** What the mirror hands the history store, per topic (the store's side is test/unit/history-store.test.ts). */
class RecordingHistory {
  private readonly topics: string[] = [];
  readonly records = new Map<string, { value: PointValue; status: number }[]>();

  pointId(topic: string): number {
    return this.topics.push(topic);
  }

  append(id: number, record: { value: PointValue; status: number }): void {
    const topic = this.topics[id - 1]!;
    const list = this.records.get(topic) ?? [];
    list.push({ value: record.value, status: record.status });
    this.records.set(topic, list);
  }

  values(topic: string): PointValue[] {
    return (this.records.get(topic) ?? []).map((r) => r.value);
  }
}

function rig(mappingYaml = "", history: RecordingHistory | null = null) {
  const { config, problems } = buildConfig(
    parseYamlText(`${mappingYaml}devices:\n  - { type: 3WA, name: Feeder 01, source: ETU }\n`, "test.yaml"),
    {},
  );
  if (!config) throw new Error(JSON.stringify(problems));
  const lines: { level: string; message: string; [key: string]: unknown }[] = [];
  const logger = winston.createLogger({
    level: "debug",
    format: winston.format.json(),
    transports: [
      new winston.transports.Stream({
        stream: new Writable({
          write(chunk, _encoding, done) {
            lines.push(JSON.parse(String(chunk)));
            done();
          },
        }),
      }),
    ],
  });
  const sink = new RecordingSink();
  const counters = new IngestCounters();
  const mirror = new PointMirror(config, catalog, sink, counters, logger, undefined, null, history);
  mirror.start();
  const send = (topic: string, payload: string, now = Date.now()) =>
    mirror.handle(topic, Buffer.from(payload), now);
  return { mirror, sink, counters, lines, send };
}

describe("the point state machine (PointMirror through its sink)", () => {
  let r: ReturnType<typeof rig>;
  afterEach(() => r.mirror.stop());

  it("creates every declared point waiting, and writes nothing until its first value: then Good", () => {
    r = rig();
    expect(r.sink.variables.size).toBe(catalog.points.length);
    // Created BadWaitingForInitialData by the sink (DeviceNodes); the mirror writes nothing yet.
    expect([...r.sink.variables.values()].every((v) => v.writes.length === 0)).toBe(true);
    r.send(VOLTAGE, "230.5", 1_000);
    expect(r.sink.writes(VOLTAGE)).toEqual([
      {
        value: 230.5,
        status: StatusCodes.Good,
        sourceTimestamp: new Date(1_000),
        serverTime: new Date(1_000),
      },
    ]);
    expect(r.sink.writes(CURRENT)).toEqual([]);
  });

  it("takes the payload's quality and timestamp: uncertain is Uncertain, bad is Bad", () => {
    r = rig();
    r.send(VOLTAGE, '{"value": 1, "quality": "uncertain", "ts": "2026-11-24T10:00:00Z"}', 5_000);
    expect(r.sink.last(VOLTAGE)).toEqual({
      value: 1,
      status: StatusCodes.Uncertain,
      sourceTimestamp: new Date("2026-11-24T10:00:00Z"),
      serverTime: new Date(5_000),
    });
    r.send(VOLTAGE, '{"value": 2, "qc": 0}', 6_000);
    expect(r.sink.last(VOLTAGE)).toMatchObject({ value: 2, status: StatusCodes.Bad });
  });

  describe("stale (mapping.staleAfter), on a fake clock", () => {
    beforeEach(() => {
      vi.useFakeTimers({ now: 1_000_000 });
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it("turns a fresh point UncertainLastUsableValue after its stale time, keeping value and source time", () => {
      r = rig("mapping:\n  staleAfter: { default: 2 }\n");
      r.send(VOLTAGE, "230.5");
      const fresh = r.sink.last(VOLTAGE)!;
      vi.advanceTimersByTime(1_900);
      expect(r.sink.writes(VOLTAGE)).toHaveLength(1);
      // The sweep runs every quarter of the stale time: stale within 2.5 s.
      vi.advanceTimersByTime(600);
      const stale = r.sink.last(VOLTAGE)!;
      expect(stale.status).toBe(StatusCodes.UncertainLastUsableValue);
      expect(stale.value).toBe(230.5);
      expect(stale.sourceTimestamp).toEqual(fresh.sourceTimestamp);
      expect(stale.serverTime.getTime()).toBeGreaterThan(fresh.serverTime.getTime() + 2_000);
      // Once: a stale point is not written again by every sweep, and a waiting one never goes stale.
      vi.advanceTimersByTime(10_000);
      expect(r.sink.writes(VOLTAGE)).toHaveLength(2);
      expect(r.sink.writes(CURRENT)).toEqual([]);
      r.send(VOLTAGE, "231");
      expect(r.sink.last(VOLTAGE)).toMatchObject({ value: 231, status: StatusCodes.Good });
    });

    it("gives a stale point its value's own status back when a reload turns stale detection off or longer", () => {
      // Issue 16: a SIGHUP set mapping.staleAfter.default to 30, then back to 0; a retained point
      // that had turned stale under 30 stayed UncertainLastUsableValue, with no stale time at all.
      r = rig();
      r.send(VOLTAGE, '{"value": 230.5, "quality": "uncertain"}');
      r.send(CURRENT, "12");
      vi.advanceTimersByTime(60_000);
      const stale = { default: 30, families: {}, points: {} };
      r.mirror.setStaleTimes(stale);
      vi.advanceTimersByTime(1_000);
      expect(r.sink.last(VOLTAGE)!.status).toBe(StatusCodes.UncertainLastUsableValue);
      expect(r.sink.last(CURRENT)!.status).toBe(StatusCodes.UncertainLastUsableValue);

      // Longer than the point's age: no longer stale. Off: never stale.
      r.mirror.setStaleTimes({ ...stale, points: { "11/6": 600 } });
      expect(r.sink.last(CURRENT)).toMatchObject({ value: 12, status: StatusCodes.Good });
      expect(r.sink.last(VOLTAGE)!.status).toBe(StatusCodes.UncertainLastUsableValue);
      r.mirror.setStaleTimes({ ...stale, default: 0 });
      const back = r.sink.last(VOLTAGE)!;
      expect(back).toMatchObject({ value: 230.5, status: StatusCodes.Uncertain });
      expect(back.serverTime.getTime()).toBe(Date.now());
      vi.advanceTimersByTime(60_000);
      expect(r.sink.last(VOLTAGE)!.status).toBe(StatusCodes.Uncertain);
      expect(r.sink.writes(CURRENT)).toHaveLength(3);
      // ServiceLevel's share counts them fresh again.
      expect(r.mirror.freshness).toEqual({ fresh: 2, known: 2 });
    });

    it("counts the points fresh and the points known through every change of state (ServiceLevel's share)", () => {
      r = rig("mapping:\n  staleAfter: { default: 2 }\n");
      expect(r.mirror.freshness).toEqual({ fresh: 0, known: 0 });
      r.send(VOLTAGE, "230.5");
      r.send(VOLTAGE, "230.6");
      r.send(CURRENT, "12");
      expect(r.mirror.freshness).toEqual({ fresh: 2, known: 2 });
      r.send(CURRENT, "not a number");
      expect(r.mirror.freshness).toEqual({ fresh: 1, known: 2 });
      vi.advanceTimersByTime(2_600);
      expect(r.mirror.freshness).toEqual({ fresh: 0, known: 2 });
      r.send(VOLTAGE, "231");
      r.send(CURRENT, "13");
      expect(r.mirror.freshness).toEqual({ fresh: 2, known: 2 });
      r.mirror.connectionLost();
      expect(r.mirror.freshness).toEqual({ fresh: 0, known: 2 });
      r.mirror.connectionRestored();
      r.send(VOLTAGE, "232");
      expect(r.mirror.freshness).toEqual({ fresh: 1, known: 2 });
    });
  });

  it("keeps the last value with BadDecodingError when a payload cannot be decoded, counted by reason", () => {
    r = rig();
    r.send(VOLTAGE, "230.5", 1_000);
    r.send(VOLTAGE, "not a number", 2_000);
    expect(r.sink.last(VOLTAGE)).toEqual({
      value: 230.5,
      status: StatusCodes.BadDecodingError,
      sourceTimestamp: new Date(1_000),
      serverTime: new Date(2_000),
    });
    expect(r.counters.rejectedBy.get("typeMismatch")).toBe(1);
    r.send(VOLTAGE, "231", 3_000);
    expect(r.sink.last(VOLTAGE)).toMatchObject({ value: 231, status: StatusCodes.Good });
  });

  it("on a lost connection: UncertainNoCommunicationLastUsableValue with a value, BadNoCommunication without", () => {
    r = rig();
    r.send(VOLTAGE, "230.5", 1_000);
    r.mirror.connectionLost(2_000);
    expect(r.sink.last(VOLTAGE)).toEqual({
      value: 230.5,
      status: StatusCodes.UncertainNoCommunicationLastUsableValue,
      sourceTimestamp: new Date(1_000),
      serverTime: new Date(2_000),
    });
    expect(r.sink.writes(CURRENT)).toEqual([
      {
        value: null,
        status: StatusCodes.BadNoCommunication,
        sourceTimestamp: null,
        serverTime: new Date(2_000),
      },
    ]);
    // Told twice (the keep-alive and the close): written once.
    r.mirror.connectionLost(2_500);
    expect(r.sink.writes(VOLTAGE)).toHaveLength(2);
    // A point that first appears meanwhile says so too.
    const other = "11/5/3WA/Feeder 02/ETU";
    r.send(other, "229", 2_600);
    expect(r.sink.writes(other)[0]).toMatchObject({ value: null, status: StatusCodes.BadNoCommunication });
  });

  it("after the broker returns, a point turns Good with its next value, not before", () => {
    r = rig();
    r.send(VOLTAGE, "230.5", 1_000);
    r.mirror.connectionLost(2_000);
    r.mirror.connectionRestored();
    expect(r.sink.last(VOLTAGE)!.status).toBe(StatusCodes.UncertainNoCommunicationLastUsableValue);
    expect(r.sink.last(CURRENT)!.status).toBe(StatusCodes.BadNoCommunication);
    r.send(VOLTAGE, "232", 3_000);
    expect(r.sink.last(VOLTAGE)).toMatchObject({ value: 232, status: StatusCodes.Good });
    expect(r.sink.last(CURRENT)!.status).toBe(StatusCodes.BadNoCommunication);
  });

  it("restored from the history store: the stored value with its source time as UncertainLastUsableValue, a device made as a first message makes it, Good with the next value; history records the next value, not the restored one", () => {
    const history = new RecordingHistory();
    r = rig("mapping: { maxDevices: 2 }\n", history);
    const last = { value: 231.7, sourceTime: 500, serverTime: 600, status: 0 };
    r.mirror.restore(
      [
        { topic: VOLTAGE, last },
        { topic: "11/5/3WA/Feeder 02/ETU", last },
        { topic: "11/6/3WA/Feeder 02/ETU", last: null },
        // Beyond mapping.maxDevices (the declared device and Feeder 02): not made, logged once.
        { topic: "11/5/3WA/Feeder 03/ETU", last },
        { topic: "11/6/3WA/Feeder 03/ETU", last },
      ].map((p) => ({ ...p, id: history.pointId(p.topic) })),
      2_000,
    );
    const restored = (at: number) => ({
      value: 231.7,
      status: StatusCodes.UncertainLastUsableValue,
      sourceTimestamp: new Date(500),
      serverTime: new Date(at),
    });
    // The declared device's point at once; the restored device is counted, its points made later.
    expect(r.sink.writes(VOLTAGE)).toEqual([restored(2_000)]);
    expect(r.sink.variables.has("11/5/3WA/Feeder 02/ETU")).toBe(false);
    expect(r.mirror.deviceCount).toBe(2);
    expect(r.mirror.pendingDevices).toBe(1);
    expect(r.mirror.pointCount).toBe(catalog.points.length + 2);
    expect(r.mirror.freshness).toEqual({ fresh: 0, known: 2 });
    r.mirror.makeRestored("3WA/Feeder 02/ETU", 2_500);
    expect(r.mirror.pendingDevices).toBe(0);
    expect(r.mirror.pointCount).toBe(catalog.points.length + 2);
    expect(r.sink.writes("11/5/3WA/Feeder 02/ETU")).toEqual([restored(2_500)]);
    // No stored value: as created, BadWaitingForInitialData, nothing written.
    expect(r.sink.variables.has("11/6/3WA/Feeder 02/ETU")).toBe(true);
    expect(r.sink.writes("11/6/3WA/Feeder 02/ETU")).toEqual([]);
    expect(r.sink.variables.has("11/5/3WA/Feeder 03/ETU")).toBe(false);
    expect(r.mirror.deviceCount).toBe(2);
    expect(r.lines.filter((l) => l.message === "stored points not restored")).toEqual([
      expect.objectContaining({ deviceLimit: 2 }),
    ]);
    // Restored, not discovered: at debug level, the gateway's one line counts them (a line each
    // buried the start's log under hundreds). Only the declared device, made before, was discovered.
    expect(r.lines.filter((l) => l.message === "device discovered").map((l) => l.device)).toEqual([
      "3WA/Feeder 01/ETU",
    ]);
    expect(r.lines.filter((l) => l.message === "device restored")).toEqual([
      expect.objectContaining({ level: "debug", device: "3WA/Feeder 02/ETU" }),
    ]);
    // Not messages: nothing received or rejected.
    expect(r.counters.received).toBe(0);
    // The store has the restored values already: nothing goes back into it.
    expect(history.records.size).toBe(0);
    r.send(VOLTAGE, "232", 3_000);
    expect(r.sink.last(VOLTAGE)).toMatchObject({ value: 232, status: StatusCodes.Good });
    expect(history.records.get(VOLTAGE)).toEqual([{ value: 232, status: StatusCodes.Good.value }]);
  });

  it("a refused subscription turns its points BadConfigurationError, value kept; a granted filter that also covers them wins", () => {
    r = rig();
    r.send(VOLTAGE, "230.5", 1_000);
    const refused = [{ filter: "11/5/#", reasonCode: 0x87, reason: "Not authorized" }];
    r.mirror.subscriptionsChanged({ granted: ["21/#"], refused }, 2_000);
    expect(r.sink.last(VOLTAGE)).toEqual({
      value: 230.5,
      status: StatusCodes.BadConfigurationError,
      sourceTimestamp: new Date(1_000),
      serverTime: new Date(2_000),
    });
    expect(r.sink.writes(CURRENT)).toEqual([]);
    // A point that first appears under the refused filter is refused from its creation.
    const other = "11/5/3WA/Feeder 02/ETU";
    r.mirror.handle(other, Buffer.from(""), 2_500);
    expect(r.sink.writes(other)[0]).toMatchObject({ status: StatusCodes.BadConfigurationError });

    r = rig();
    r.send(VOLTAGE, "230.5", 1_000);
    r.mirror.subscriptionsChanged({ granted: ["11/+/3WA/#"], refused }, 2_000);
    expect(r.sink.last(VOLTAGE)!.status).toBe(StatusCodes.Good);
  });
});

describe("restored devices made when first needed (README, History: continuity)", () => {
  let r: ReturnType<typeof rig>;
  afterEach(() => r.mirror.stop());
  const OTHER = "3WA/Feeder 02/ETU";
  const last = { value: 231.7, sourceTime: 500, serverTime: 600, status: 0 };
  /** Feeder 02 restored with a stored voltage and a current without a value; not made yet. */
  function restored(mappingYaml = "", needed: ReadonlySet<string> = new Set()) {
    r = rig(mappingYaml);
    r.mirror.restore(
      [
        { topic: `11/5/${OTHER}`, id: 1, last },
        { topic: `11/6/${OTHER}`, id: 2, last: null },
      ],
      2_000,
      needed,
    );
    return r;
  }

  it("a message of the device makes every restored point, and is mirrored as a known point's", () => {
    restored();
    expect(r.mirror.pendingDevices).toBe(1);
    r.send(`11/6/${OTHER}`, "12.5", 3_000);
    expect(r.mirror.pendingDevices).toBe(0);
    expect(r.sink.writes(`11/5/${OTHER}`)).toEqual([
      {
        value: 231.7,
        status: StatusCodes.UncertainLastUsableValue,
        sourceTimestamp: new Date(500),
        serverTime: new Date(3_000),
      },
    ]);
    expect(r.sink.last(`11/6/${OTHER}`)).toMatchObject({ value: 12.5, status: StatusCodes.Good });
    expect(r.counters.received).toBe(1);
    expect(r.counters.rejected).toBe(0);
    expect(r.mirror.freshness).toEqual({ fresh: 1, known: 2 });
    expect(r.lines.filter((l) => l.message === "device discovered").map((l) => l.device)).toEqual([
      "3WA/Feeder 01/ETU",
    ]);
  });

  it("made after the broker was lost or a filter refused: the stored value under the status a point made then has", () => {
    restored();
    r.mirror.connectionLost(2_500);
    r.mirror.makeRestored(OTHER, 3_000);
    expect(r.sink.last(`11/5/${OTHER}`)).toEqual({
      value: 231.7,
      status: StatusCodes.UncertainNoCommunicationLastUsableValue,
      sourceTimestamp: new Date(500),
      serverTime: new Date(3_000),
    });
    expect(r.sink.last(`11/6/${OTHER}`)).toMatchObject({
      value: null,
      status: StatusCodes.BadNoCommunication,
    });

    r.mirror.stop();
    restored();
    r.mirror.subscriptionsChanged(
      { granted: [], refused: [{ filter: "11/#", reasonCode: 0x87, reason: "Not authorized" }] },
      2_500,
    );
    r.mirror.makeRestored(OTHER, 3_000);
    expect(r.sink.last(`11/5/${OTHER}`)).toMatchObject({
      value: 231.7,
      status: StatusCodes.BadConfigurationError,
      sourceTimestamp: new Date(500),
    });
  });

  it("a device `needed` at start (open conditions) is made by the restore itself", () => {
    restored("", new Set([OTHER]));
    expect(r.mirror.pendingDevices).toBe(0);
    expect(r.sink.last(`11/5/${OTHER}`)).toMatchObject({
      value: 231.7,
      status: StatusCodes.UncertainLastUsableValue,
    });
  });

  it("in the background, one device per turn of the event loop; told once when none is left; stop cancels it", async () => {
    r = rig();
    const devices = ["Feeder 02", "Feeder 03", "Feeder 04"].map((name) => `3WA/${name}/ETU`);
    r.mirror.restore(
      devices.map((d, i) => ({ topic: `11/5/${d}`, id: i + 1, last })),
      2_000,
    );
    expect(r.mirror.pendingDevices).toBe(3);
    // One made by its message first: the background makes the others.
    r.send(`11/5/${devices[1]}`, "230", 2_500);
    let done = 0;
    r.mirror.makeRestoredInBackground(() => done++);
    expect(r.mirror.pendingDevices).toBe(2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.mirror.pendingDevices).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(r.mirror.pendingDevices).toBe(0);
    expect(done).toBe(1);
    for (const d of devices) expect(r.sink.variables.has(`11/5/${d}`)).toBe(true);

    r.mirror.stop();
    r = rig();
    r.mirror.restore(
      devices.map((d, i) => ({ topic: `11/5/${d}`, id: i + 1, last })),
      2_000,
    );
    r.mirror.makeRestoredInBackground(() => done++);
    r.mirror.stop();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(r.mirror.pendingDevices).toBe(3);
    expect(done).toBe(1);
  });

  it("a reload declaring the device makes its restored points first, values kept; a value the catalog's type no longer takes is not known", () => {
    r = rig();
    r.mirror.restore(
      [
        { topic: `11/5/${OTHER}`, id: 1, last },
        // Stored when the point was text; a Double now: it waits for a value.
        { topic: `11/6/${OTHER}`, id: 2, last: { ...last, value: "phase 2" } },
      ],
      2_000,
    );
    expect(r.mirror.freshness).toEqual({ fresh: 0, known: 2 });
    r.mirror.declareDevices([{ type: "3WA", name: "Feeder 02", source: "ETU" }]);
    expect(r.mirror.pendingDevices).toBe(0);
    expect(r.sink.last(`11/5/${OTHER}`)).toMatchObject({
      value: 231.7,
      status: StatusCodes.UncertainLastUsableValue,
    });
    expect(r.sink.writes(`11/6/${OTHER}`)).toEqual([]);
    expect(r.mirror.freshness).toEqual({ fresh: 0, known: 1 });
    expect(r.mirror.pointCount).toBe(2 * catalog.points.length);
  });
});

describe("what history records of each point (history.record)", () => {
  it("every value, off, each change, or a change beyond an absolute or EURange-percent deadband from the last recorded value; status changes always", () => {
    const history = new RecordingHistory();
    const r = rig(
      [
        "history:",
        "  record:",
        "    default: all",
        '    families: { "21": off, "11": change }',
        // 11/5 and 11/6 are Voltage L1 and L2, EURange [0, 600]: 1 % is 6 V.
        '    points: { "11/5": deadband 1, "11/6": deadband 1%, "48/50": all }',
        // A filter wins over the point's and family's settings; the first that matches is taken.
        '    topics: { "11/10/3WA/+/ETU": all, "+/+/3WA/Feeder 02/ETU": off, "11/10/#": off }',
        "",
      ].join("\n"),
      history,
    );
    const send = (topic: string, values: (number | string)[], at: number) => {
      for (const [i, v] of values.entries()) r.send(topic, String(v), at + i);
    };
    send(VOLTAGE, [230, 230.5, 231, 231.2, 231.9, 232.3, 229.9], 1_000);
    // Beyond 1 V of the last recorded (230, then 231.2), not of the last received.
    expect(history.values(VOLTAGE)).toEqual([230, 231.2, 232.3, 229.9]);
    send(CURRENT, [230, 235, 236.1, 230], 1_000);
    expect(history.values(CURRENT)).toEqual([230, 236.1, 230]);
    const unbalance = `11/9/${DEVICE}`;
    send(unbalance, [1, 1, 1.01, 1.01, 1], 1_000);
    expect(history.values(unbalance)).toEqual([1, 1.01, 1]);
    const phase = `11/37/${DEVICE}`;
    send(phase, ['"L1"', '"L1"', '"L2"'], 1_000);
    expect(history.values(phase)).toEqual(["L1", "L2"]);
    const other = `11/10/${DEVICE}`;
    send(other, [1, 1], 1_000);
    expect(history.values(other)).toEqual([1, 1]);
    // A device discovered by its first message, whose points a filter turns off.
    const off = "11/5/3WA/Feeder 02/ETU";
    send(off, [400, 401], 1_000);
    expect(history.records.has(off)).toBe(false);
    const serial = `21/14/${DEVICE}`;
    send(serial, ['"A1"', '"A2"'], 1_000);
    expect(history.records.has(serial)).toBe(false);
    const temperature = `48/50/${DEVICE}`;
    send(temperature, [40, 40, 40], 1_000);
    expect(history.values(temperature)).toEqual([40, 40, 40]);

    // A status change is recorded with the unchanged value, and the next Good value after it too.
    r.mirror.connectionLost(5_000);
    r.mirror.connectionRestored();
    send(VOLTAGE, [229.9], 6_000);
    expect(history.records.get(VOLTAGE)!.slice(-2)).toEqual([
      { value: 229.9, status: StatusCodes.UncertainNoCommunicationLastUsableValue.value },
      { value: 229.9, status: StatusCodes.Good.value },
    ]);
    expect(history.records.has(serial)).toBe(false);
    // The mirror itself shows every value whatever history keeps.
    expect(r.sink.writes(VOLTAGE).filter((w) => w.status === StatusCodes.Good)).toHaveLength(8);
    r.mirror.stop();
  });
});

describe("an internal error while mirroring a message", () => {
  it("is counted as internalError (not as bad input) and logged at error level; the next message goes on", () => {
    const r = rig();
    r.sink.failOn = VOLTAGE;
    expect(() => r.send(VOLTAGE, "230.5", 1_000)).not.toThrow();
    expect(r.counters.rejectedBy.get("internalError")).toBe(1);
    expect(r.counters.rejectedBy.get("noValue")).toBe(0);
    expect(r.counters.received).toBe(r.counters.decoded + r.counters.rejected);
    const line = r.lines.find((l) => l.reason === "internalError");
    expect(line).toMatchObject({ level: "error", topic: VOLTAGE, error: "the sink failed" });
    r.send(CURRENT, "12", 1_000);
    expect(r.sink.last(CURRENT)).toMatchObject({ value: 12, status: StatusCodes.Good });
    r.mirror.stop();
  });
});
