import assert from "node:assert/strict";
import fc from "fast-check";
import { StatusCodes } from "node-opcua";
import { DECODE_FAILURES, type RejectReason } from "../../src/mapping/counters.js";
import type { DecodeFailure } from "../../src/mapping/payload.js";
import {
  type Counts,
  type IngestRig,
  MB,
  memory,
  prototypeFingerprint,
  reasonsBetween,
  startIngestRig,
} from "./ingest-harness.js";

/**
 * Bad-input fuzzing of the ingest path (issue 7, item 5): fast-check draws a topic and a payload,
 * PointMirror.handle takes them on a real gateway, and every case is checked against what the README
 * promises: nothing thrown, nothing counted by the catch-all, received = decoded + rejected, a
 * payload beyond mapping.maxPayloadBytes counted and creating nothing, a point's status
 * BadDecodingError with its last value kept when its payload cannot be read, and Object.prototype
 * untouched.
 */

export const FUZZ_MAX_PAYLOAD = 65_536;
export const FUZZ_MAX_DEVICES = 16;
/** Devices declared in the configuration: every catalog point exists from the start. */
const POOL: readonly (readonly [string, string, string])[] = [
  ["3WA", "Fuzz 1", "ETU"],
  ["3WA", "Fuzz 2", "ETU"],
];

export const FUZZ_YAML = `mapping:
  maxPayloadBytes: ${FUZZ_MAX_PAYLOAD}
  maxDevices: ${FUZZ_MAX_DEVICES}
  statusTopic: "status/{deviceType}/{deviceName}/{deviceSource}"
devices:
${POOL.map(([type, name, source]) => `  - { type: ${type}, name: ${name}, source: ${source} }`).join("\n")}
`;

/** Topic levels that have broken parsers elsewhere: object keys, NodeId and QualifiedName syntax. */
export const HOSTILE_LEVELS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "__defineGetter__",
  "ns=1;i=85",
  "ns=2;s=Devices",
  "s=SmartGear",
  "i=84",
  "nsu=urn:x;s=y",
  "a\nb",
  "line\r\nbreak",
  "10:30",
  "Feeder:1",
  "0:x",
  "\u0000",
  "\ud800",
  "\uffff",
  "..",
  ".",
  "+",
  "#",
  " ",
  "\t",
  "Devices",
  "Gateway",
  "%00",
  "{deviceName}",
  `'"<>&`,
];

const HUGE = Buffer.alloc(16 * MB, 0x37); // 16 MiB of "7": one buffer, shared by every case drawing it

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));

function deepJson(depth: number, shape: string): string {
  const arrays = "[".repeat(depth) + "]".repeat(depth);
  const objects = `${'{"v":'.repeat(depth)}1${"}".repeat(depth)}`;
  switch (shape) {
    case "array":
      return arrays;
    case "valueArray":
      return `{"v":${arrays}}`;
    case "valueObject":
      return objects;
    case "ts":
      return `{"v":1,"ts":${arrays}}`;
    case "quality":
      return `{"v":1,"quality":${objects}}`;
    case "vals":
      return `{"vals":[{"id":"11/5","v":${arrays}}]}`;
    default:
      return `{"doc":${objects}}`;
  }
}

function arbitraries(points: readonly string[]) {
  const level = fc.oneof(
    fc.constantFrom(...HOSTILE_LEVELS),
    fc.string({ minLength: 1, maxLength: 12, unit: "binary" }).filter((s) => !s.includes("/")),
    fc.constantFrom("3WA", "ETU", "Fuzz 1", "Fuzz 3"),
  );
  const device = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...POOL) },
    { weight: 2, arbitrary: fc.tuple(level, level, level) },
  );
  const join = ([t, n, s]: readonly [string, string, string]) => `${t}/${n}/${s}`;
  const topic = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...points), device).map(([p, d]) => `${p}/${join(d)}`) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom("11", "21", "48", "99", "0", "011"), fc.nat(999_999_999), device)
        .map(([f, id, d]) => `${f}/${id}/${join(d)}`),
    },
    { weight: 1, arbitrary: device.map((d) => `status/${join(d)}`) },
    {
      weight: 2,
      arbitrary: fc
        .array(fc.oneof(level, fc.constant(""), fc.nat(99).map(String)), { maxLength: 8 })
        .map((a) => a.join("/")),
    },
  );

  const scalar = fc.oneof(
    fc.double().map(String),
    fc.integer().map(String),
    fc.integer({ min: -1, max: 70_000 }).map(String),
    fc.boolean().map(String),
    fc.integer({ min: -2e13, max: 3e12 }).map((ms) => new Date(ms).toISOString()),
    fc.string({ maxLength: 16 }),
  );
  const jsonKey = fc.constantFrom(
    "__proto__",
    "constructor",
    "prototype",
    "v",
    "value",
    "val",
    "ts",
    "quality",
    "qc",
    "vals",
    "id",
    "status",
    "toString",
    "valueOf",
  );
  const jsonText = (v: unknown) => JSON.stringify(v) ?? "null";
  const payload = fc.oneof(
    // Random bytes, and bytes that are not UTF-8 (overlong, surrogate, truncated, beyond U+10FFFF).
    fc.uint8Array({ maxLength: 64 }),
    fc
      .tuple(
        fc.uint8Array({ maxLength: 16 }),
        fc.constantFrom(
          [0xff],
          [0xc0, 0x80],
          [0xed, 0xa0, 0x80],
          [0xe2, 0x82],
          [0xf4, 0x90, 0x80, 0x80],
          [0x80],
        ),
        fc.uint8Array({ maxLength: 16 }),
      )
      .map(([a, bad, b]) => new Uint8Array([...a, ...bad, ...b])),
    // Sizes around mapping.maxPayloadBytes (a number padded with spaces), and 16 MiB.
    fc
      .integer({ min: FUZZ_MAX_PAYLOAD - 4, max: FUZZ_MAX_PAYLOAD + 64 })
      .map((n) => new Uint8Array(Buffer.alloc(n, 0x20).fill(0x37, 0, 1))),
    fc.constant(new Uint8Array(HUGE.buffer, HUGE.byteOffset, HUGE.length)),
    // NaN and infinities as text, as JSON strings, and as JSON that is not JSON.
    fc
      .constantFrom(
        "NaN",
        "Infinity",
        "-Infinity",
        "+Infinity",
        "1e309",
        "-1e309",
        "-0",
        "0x10",
        "1e3",
        "  NaN  ",
        '"NaN"',
        '"Infinity"',
        '{"v":NaN}',
        '{"v":Infinity}',
        '{"v":"NaN"}',
        '{"value":"-Infinity"}',
        '{"v":1e309}',
        "[NaN]",
        '{"vals":[{"v":"Infinity"}]}',
      )
      .map(utf8),
    // Values of every type, plain and in each envelope, whatever the point's type is.
    fc.tuple(scalar, fc.constantFrom("plain", "v", "value", "quality", "qc", "vals")).map(([v, shape]) => {
      if (shape === "plain") return utf8(v);
      if (shape === "vals") return utf8(jsonText({ vals: [{ id: "11/5", val: v, qc: 3 }] }));
      if (shape === "quality") return utf8(jsonText({ value: v, quality: "uncertain" }));
      if (shape === "qc") return utf8(jsonText({ v, qc: 0 }));
      return utf8(jsonText({ [shape]: v }));
    }),
    fc
      .tuple(fc.jsonValue({ maxDepth: 4 }), fc.constantFrom("bare", "v", "value", "vals"))
      .map(([v, shape]) =>
        utf8(
          shape === "bare"
            ? jsonText(v)
            : shape === "vals"
              ? jsonText({ vals: [{ id: "21/14", val: v }] })
              : jsonText({ [shape]: v }),
        ),
      ),
    // Deep JSON: up to 12,000 levels (JSON.stringify of 10,000 throws RangeError).
    fc
      .tuple(
        fc.integer({ min: 1, max: 12_000 }),
        fc.constantFrom("array", "valueArray", "valueObject", "ts", "quality", "vals", "doc"),
      )
      .map(([depth, shape]) => utf8(deepJson(depth, shape))),
    // __proto__, constructor and prototype as JSON keys, literally in the text (duplicates allowed).
    fc
      .array(fc.tuple(jsonKey, fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant({ polluted: "yes" }))), {
        maxLength: 5,
      })
      .map((entries) =>
        utf8(`{${entries.map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`).join(",")}}`),
      ),
    fc
      .constantFrom(
        '{"__proto__":{"polluted":"yes"},"v":1}',
        '{"constructor":{"prototype":{"polluted":"yes"}},"v":1}',
        '{"v":{"__proto__":{"polluted":"yes"}}}',
        '{"v":{"toString":1}}',
        '{"v":{"toString":1,"valueOf":1}}',
        '{"status":{"toString":1}}',
        '{"online":{"valueOf":1,"toString":1}}',
        '{"vals":[{"__proto__":{"polluted":"yes"},"id":"11/5","v":1}]}',
        '{"v":1,"ts":{"toString":1}}',
        '{"v":1,"quality":{"__proto__":{"polluted":"yes"}}}',
      )
      .map(utf8),
  );
  return { topic, payload };
}

export interface FuzzFigures {
  cases: number;
  ms: number;
  casesPerSecond: number;
  heapBefore: number;
  heapAfter: number;
  rssBefore: number;
  rssAfter: number;
  /** Whether the heap figures were taken after a full GC. */
  gc: boolean;
  /** How the cases ended: "decoded" or the reject reason. */
  outcomes: Partial<Record<RejectReason | "decoded", number>>;
  /** Cases where a point turned BadDecodingError with its last value kept. */
  decodeErrorsOnPoints: number;
  devices: number;
  rememberedUnknown: number;
  /** Messages the catch-all in PointMirror.handle took (reason internalError): 0, or the run fails. */
  internalErrors: number;
}

const same = (a: unknown, b: unknown) =>
  a instanceof Date && b instanceof Date ? a.getTime() === b.getTime() : Object.is(a, b);

/** Runs `runs` fuzz cases on a fresh gateway; throws (with fast-check's counterexample) on the first bad one. */
export async function runIngestFuzz(options: { runs: number; seed?: number }): Promise<FuzzFigures> {
  const rig = await startIngestRig(FUZZ_YAML);
  try {
    return await fuzz(rig, options);
  } finally {
    await rig.stop();
  }
}

async function fuzz(rig: IngestRig, { runs, seed }: { runs: number; seed?: number }): Promise<FuzzFigures> {
  const catalog = rig.gateway.catalog;
  const { topic, payload } = arbitraries(catalog.points.map((p) => p.topicId));
  const fingerprint = prototypeFingerprint();
  const outcomes: FuzzFigures["outcomes"] = {};
  let decodeErrorsOnPoints = 0;
  const decodeFailures = new Set<RejectReason>(DECODE_FAILURES);
  const GOOD_UNCERTAIN_BAD = new Set([
    StatusCodes.Good.value,
    StatusCodes.Uncertain.value,
    StatusCodes.Bad.value,
  ]);

  const check = (t: string, p: Uint8Array) => {
    const before: Counts = rig.counts();
    const previous = rig.read(t);
    rig.ingest.handle(t, p); // never throws: a throw fails the property
    const after = rig.counts();
    const reasons = reasonsBetween(before, after);

    // A bug: its error and stack are in the log line (GATEWAY_TEST_LOGS=1).
    assert.equal(after.by.internalError, 0, "caught by the catch-all (internalError)");
    assert.equal(after.received, before.received + 1);
    assert.equal(after.decoded + after.rejected, after.received, "received = decoded + rejected");
    assert.equal(
      after.decoded - before.decoded + after.rejected - before.rejected,
      1,
      "one outcome a message",
    );
    assert.ok(reasons.length <= 1, `one reason a message: ${reasons}`);
    assert.ok(after.devices <= FUZZ_MAX_DEVICES, "devices within mapping.maxDevices");
    assert.equal(({} as Record<string, unknown>).polluted, undefined, "Object.prototype polluted");
    assert.equal(prototypeFingerprint(), fingerprint, "Object.prototype changed");
    const outcome = reasons[0] ?? "decoded";
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;

    if (p.length > FUZZ_MAX_PAYLOAD) {
      assert.deepEqual(reasons, ["payloadTooLarge"]);
      assert.equal(after.devices, before.devices, "an oversized payload creates no device");
      assert.equal(after.points, before.points, "an oversized payload creates no point");
      if (previous) {
        const now = rig.read(t)!;
        assert.equal(
          now.statusCode.value,
          previous.statusCode.value,
          "an oversized payload leaves the status",
        );
        assert.ok(same(now.value.value, previous.value.value), "an oversized payload leaves the value");
      }
      return;
    }
    const current = rig.read(t);
    if (!current || t.startsWith("status/")) return;
    if (outcome === "decoded") {
      assert.ok(GOOD_UNCERTAIN_BAD.has(current.statusCode.value), `decoded: ${current.statusCode.name}`);
      assert.ok(current.value.value !== null, "a decoded value is on the variable");
    } else if (decodeFailures.has(outcome as DecodeFailure)) {
      decodeErrorsOnPoints++;
      assert.equal(current.statusCode.value, StatusCodes.BadDecodingError.value, `${outcome}: status`);
      const kept = previous ? previous.value.value : null;
      assert.ok(same(current.value.value, kept), `${outcome}: last value kept`);
    }
  };

  const heap0 = memory();
  const started = performance.now();
  fc.assert(fc.property(topic, payload, check), {
    numRuns: runs,
    endOnFailure: true,
    ...(seed ? { seed } : {}),
  });
  const ms = performance.now() - started;
  const heap1 = memory();
  return {
    cases: runs,
    ms,
    casesPerSecond: Math.round((runs / ms) * 1000),
    heapBefore: heap0.heapUsed,
    heapAfter: heap1.heapUsed,
    rssBefore: heap0.rss,
    rssAfter: heap1.rss,
    gc: heap0.gc && heap1.gc,
    outcomes,
    decodeErrorsOnPoints,
    devices: rig.ingest.deviceCount,
    rememberedUnknown: rig.rememberedUnknown(),
    internalErrors: rig.counts().by.internalError,
  };
}
