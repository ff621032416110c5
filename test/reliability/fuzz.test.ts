import { AttributeIds, NodeId, NodeIdType, type QualifiedName, StatusCodes } from "node-opcua";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUZZ_YAML, runIngestFuzz } from "../harness/ingest-fuzz.js";
import {
  type IngestRig,
  MB,
  prototypeFingerprint,
  reasonsBetween,
  startIngestRig,
} from "../harness/ingest-harness.js";

/** Cases of the property run here; `npm run soak` runs ≥ 100,000 (FUZZ_RUNS overrides both). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);

describe("bad input on the ingest path (fast-check)", () => {
  it(`${RUNS} random topics and payloads: no throw, right counters and statuses, no pollution, flat memory`, async () => {
    const f = await runIngestFuzz({ runs: RUNS });
    expect(f.internalErrors).toBe(0);
    // Every kind of bad input was drawn and ended where the README says.
    for (const outcome of [
      "decoded",
      "payloadTooLarge",
      "invalidUtf8",
      "invalidJson",
      "notFinite",
      "typeMismatch",
      "noValue",
      "malformedTopic",
      "unknownId",
      "unknownFamily",
      "deviceLimit",
    ] as const)
      expect(f.outcomes[outcome], outcome).toBeGreaterThan(0);
    expect(f.decodeErrorsOnPoints).toBeGreaterThan(0);
    expect(f.devices).toBe(16);
    // Growth is bounded by what the limits allow: 14 discovered devices × 442 points × 3.5 KB
    // (22 MB) and 10,000 remembered unknown topics (~2 MB); a leak per case would pass that at soak
    // size. Heap after a full GC (V8's --expose-gc set at run time); RSS is not asserted.
    expect(f.heapAfter - f.heapBefore).toBeLessThan(32 * MB);
  });
});

describe("bad input on the ingest path: the cases fuzzing found", () => {
  let rig: IngestRig;
  beforeAll(async () => {
    rig = await startIngestRig(FUZZ_YAML);
  });
  afterAll(async () => {
    await rig.stop();
  });

  const send = (topic: string, payload: string | Uint8Array) => {
    const before = rig.counts();
    rig.ingest.handle(topic, typeof payload === "string" ? Buffer.from(payload) : payload);
    const after = rig.counts();
    expect(after.by.internalError).toBe(0);
    expect(after.decoded + after.rejected).toBe(after.received);
    return { reasons: reasonsBetween(before, after), value: rig.read(topic) };
  };

  it("a topic level with a line break or NodeId syntax gets its own nodes and locks no device out", () => {
    // node-opcua parsed "s=<topic>" with unanchored patterns: "a\nb" became "a", "ns=1;i=85" the
    // Objects folder; the real device "a" then failed on every message (caught, counted noValue).
    for (const name of ["a\nb", "ns=1;i=85", "x;s=y"])
      expect(send(`11/5/3WA/${name}/ETU`, "230.5").value?.statusCode).toBe(StatusCodes.Good);
    const real = send("11/5/3WA/a/ETU", "231");
    expect(real.reasons).toEqual([]);
    expect(real.value?.value.value).toBe(231);
    expect(rig.read("11/5/3WA/a\nb/ETU")?.value.value).toBe(230.5);
  });

  it("a device level with a colon keeps its browse name (not read as a namespace index)", () => {
    send("11/5/3WA/Feeder:1/10:30", "1");
    const browseName = rig.gateway
      .diagnostics()
      .read(new NodeId(NodeIdType.STRING, "Devices/3WA/Feeder:1/10:30", 2), AttributeIds.BrowseName).value
      .value as QualifiedName;
    expect(browseName.name).toBe("10:30");
    expect(browseName.namespaceIndex).toBe(2);
  });

  it("deep JSON (10,000 levels) is BadDecodingError with the last value kept, on every point type", () => {
    const deep = `{"v":${"[".repeat(10_000)}${"]".repeat(10_000)}}`;
    const deepObject = `${'{"v":'.repeat(10_000)}1${"}".repeat(10_000)}`;
    const points = new Map(rig.gateway.catalog.points.map((p) => [p.dataType, p.topicId]));
    const goodValue = {
      Double: "1.5",
      UInt32: "7",
      String: "ok",
      Boolean: "true",
      DateTime: "2026-11-24T10:00:00Z",
    };
    for (const [dataType, good] of Object.entries(goodValue)) {
      const topic = `${points.get(dataType as never)}/3WA/Fuzz 2/ETU`;
      const last = send(topic, good).value!.value.value;
      // An object is a String point's JSON text, and a type mismatch on the others.
      const object = dataType === "String" ? [] : ['{"v":{"toString":1}}'];
      for (const payload of [deep, deepObject, ...object, `{"v":1,"ts":${deepObject}}`]) {
        const { reasons, value } = send(topic, payload);
        expect(reasons, `${dataType} ${payload.slice(0, 20)}`).toHaveLength(1);
        expect(value!.statusCode).toBe(StatusCodes.BadDecodingError);
        expect(value!.value.value).toEqual(last);
      }
    }
  });

  it("NaN, ±Infinity, invalid UTF-8 and a payload one byte too large: counted by reason", () => {
    const topic = "11/5/3WA/Fuzz 1/ETU"; // Voltage L1, Double
    expect(send(topic, "230.4").value!.statusCode).toBe(StatusCodes.Good);
    for (const nan of ["NaN", "Infinity", "-Infinity", '{"v":"NaN"}', "1e309"])
      expect(send(topic, nan).reasons).toEqual(["notFinite"]);
    expect(send(topic, '{"v":NaN}').reasons).toEqual(["invalidJson"]);
    expect(send(topic, new Uint8Array([0x32, 0xff, 0x33])).reasons).toEqual(["invalidUtf8"]);
    expect(send(topic, "7".padEnd(65_536)).reasons).toEqual([]);
    const points = rig.counts().points;
    expect(send("11/5/3WA/new device/ETU", "7".padEnd(65_537)).reasons).toEqual(["payloadTooLarge"]);
    expect(rig.counts().points).toBe(points);
    expect(rig.read(topic)!.value.value).toBe(7);
  });

  it("__proto__, constructor and prototype in topic levels and JSON keys pollute nothing", () => {
    const fingerprint = prototypeFingerprint();
    for (const level of ["__proto__", "constructor", "prototype"]) {
      expect(send(`11/5/${level}/${level}/${level}`, '{"__proto__":{"polluted":1},"v":2}').reasons).toEqual(
        [],
      );
      send(`status/${level}/${level}/${level}`, '{"__proto__":{"polluted":1},"status":"online"}');
      send(`21/14/3WA/Fuzz 1/${level}`, '{"v":{"constructor":{"prototype":{"polluted":1}}}}');
    }
    expect(rig.read("21/14/3WA/Fuzz 1/prototype")!.value.value).toBe(
      '{"constructor":{"prototype":{"polluted":1}}}',
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(prototypeFingerprint()).toBe(fingerprint);
  });

  it("a status word that is an object is noValue, not an internal error", () => {
    expect(send("status/3WA/Fuzz 1/ETU", '{"status":{"toString":1}}').reasons).toEqual(["noValue"]);
  });
});
