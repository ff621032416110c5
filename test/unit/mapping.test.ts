import { describe, expect, it } from "vitest";
import { coerceValue } from "../../src/mapping/coerce.js";
import { decodePayload, parseTimestamp } from "../../src/mapping/payload.js";
import { parseTopic } from "../../src/mapping/topic.js";

const enc = (s: string) => new TextEncoder().encode(s);
const decode = (s: string | Uint8Array, wholeText = false) =>
  decodePayload(typeof s === "string" ? enc(s) : s, "11/5", wholeText);

describe("topic parsing", () => {
  it("splits the five Sm@rtGear levels and keys the device by its last three", () => {
    expect(parseTopic("11/5/3WA/Feeder 01/ETU")).toEqual({
      family: "11",
      topicId: "11/5",
      deviceType: "3WA",
      deviceName: "Feeder 01",
      deviceSource: "ETU",
      deviceKey: "3WA/Feeder 01/ETU",
    });
    expect(parseTopic("48/50/50/Gruppe Süd.1/PM")?.deviceName).toBe("Gruppe Süd.1");
  });

  it("rejects other shapes: too few or many levels, empty levels, non-numeric family or id", () => {
    for (const t of [
      "11/5/3WA/F1",
      "11/5/3WA/F1/ETU/x",
      "11//3WA/F1/ETU",
      "11/5/3WA//ETU",
      "xx/5/a/b/c",
      "11/v/a/b/c",
      "",
    ])
      expect(parseTopic(t), t).toBeNull();
  });
});

describe("payload decoding", () => {
  it("takes a plain text scalar as it is", () => {
    expect(decode(" 230.4 \n")).toEqual({ ok: true, value: "230.4", sourceTimestamp: null, quality: "good" });
    expect(decode("OK")).toMatchObject({ ok: true, value: "OK" });
  });

  it("takes a JSON scalar", () => {
    expect(decode('"SN-1"')).toMatchObject({ ok: true, value: "SN-1" });
  });

  it("reads value, timestamp and quality from an object under each accepted key", () => {
    expect(decode('{"value": 1, "ts": "2026-01-01T00:00:00Z", "quality": "Uncertain"}')).toEqual({
      ok: true,
      value: 1,
      sourceTimestamp: new Date("2026-01-01T00:00:00Z"),
      quality: "uncertain",
    });
    expect(decode('{"val": 2, "timestamp": 1767225600}')).toMatchObject({
      value: 2,
      sourceTimestamp: new Date(1767225600_000),
    });
    expect(decode('{"v": 3, "time": 1767225600123, "status": 2150891520}')).toMatchObject({
      value: 3,
      sourceTimestamp: new Date(1767225600123),
      quality: "bad",
    });
  });

  it("reads the Industrial Edge vals array: the entry of this topic id, else the newest", () => {
    const vals = (entries: object[]) => JSON.stringify({ seq: 1, vals: entries });
    expect(
      decode(
        vals([
          { id: "11/6", val: 9, qc: 3 },
          { id: "11/5", val: 5, qc: 1, ts: "2026-01-01T00:00:00Z" },
        ]),
      ),
    ).toMatchObject({ ok: true, value: 5, quality: "uncertain" });
    expect(
      decode(
        vals([
          { id: "a", val: 1, ts: "2026-01-01T00:00:02Z" },
          { id: "b", val: 2, ts: "2026-01-01T00:00:01Z" },
        ]),
      ),
    ).toMatchObject({ value: 1 });
    expect(decode(vals([{ id: "x", val: 1, qc: 0 }]))).toMatchObject({ quality: "bad" });
  });

  it("takes the whole JSON text as the value of a String point without a value key", () => {
    expect(decode('{"maxTemp": 90}', true)).toMatchObject({ ok: true, value: '{"maxTemp": 90}' });
    expect(decode("[1,2]", true)).toMatchObject({ ok: true, value: "[1,2]" });
    expect(decode("{not json", true)).toMatchObject({ ok: true, value: "{not json" });
  });

  it("says precisely why a payload cannot be read", () => {
    expect(decode(new Uint8Array([0xff, 0xfe, 0x41]))).toMatchObject({ ok: false, reason: "invalidUtf8" });
    expect(decode("   ")).toMatchObject({ ok: false, reason: "empty" });
    expect(decode("{oops")).toMatchObject({ ok: false, reason: "invalidJson" });
    expect(decode('{"temperature": 1}')).toMatchObject({ ok: false, reason: "noValue" });
    expect(decode('{"value": null}')).toMatchObject({ ok: false, reason: "noValue" });
    expect(decode("[1]")).toMatchObject({ ok: false, reason: "noValue" });
    expect(decode('{"vals": []}')).toMatchObject({ ok: false, reason: "noValue" });
    expect(decode('{"value": 1, "ts": "yesterday"}')).toMatchObject({ ok: false, reason: "badTimestamp" });
    expect(decode('{"value": 1, "quality": "great"}')).toMatchObject({ ok: false, reason: "badQuality" });
    expect(decode('{"value": 1, "qc": 7}')).toMatchObject({ ok: false, reason: "badQuality" });
  });

  it("is not fooled by __proto__ or constructor keys", () => {
    const r = decode('{"__proto__": {"value": 666}, "constructor": 1}');
    expect(r).toMatchObject({ ok: false, reason: "noValue" });
    expect(({} as Record<string, unknown>).value).toBeUndefined();
  });
});

describe("timestamps", () => {
  it("accepts ISO 8601, epoch seconds and epoch milliseconds, numeric text included", () => {
    expect(parseTimestamp("2026-11-24T10:00:00+01:00")).toEqual(new Date("2026-11-24T09:00:00Z"));
    expect(parseTimestamp(1_800_000_000)).toEqual(new Date(1_800_000_000_000));
    expect(parseTimestamp("1800000000000")).toEqual(new Date(1_800_000_000_000));
    expect(parseTimestamp(undefined)).toBeNull();
  });

  it("refuses what OPC UA DateTime cannot hold", () => {
    expect(parseTimestamp(Number.NaN)).toBe("invalid");
    expect(parseTimestamp(1e20)).toBe("invalid");
    expect(parseTimestamp(true)).toBe("invalid");
  });
});

describe("coercion to the point's data type", () => {
  it("converts numbers and numeric text to Double, never NaN or Infinity", () => {
    expect(coerceValue("230.4", "Double")).toEqual({ ok: true, value: 230.4 });
    expect(coerceValue(1, "Float")).toEqual({ ok: true, value: 1 });
    expect(coerceValue("abc", "Double")).toMatchObject({ ok: false, reason: "typeMismatch" });
    expect(coerceValue("NaN", "Double")).toMatchObject({ ok: false, reason: "notFinite" });
    expect(coerceValue("Infinity", "Double")).toMatchObject({ ok: false, reason: "notFinite" });
    expect(coerceValue(true, "Double")).toMatchObject({ ok: false, reason: "typeMismatch" });
    expect(coerceValue(1e39, "Float")).toMatchObject({ ok: false, reason: "outOfRange" });
  });

  it("keeps integers whole and in range: no silent rounding", () => {
    expect(coerceValue("42", "UInt32")).toEqual({ ok: true, value: 42 });
    expect(coerceValue(4.5, "UInt32")).toMatchObject({ ok: false, reason: "typeMismatch" });
    expect(coerceValue(-1, "UInt32")).toMatchObject({ ok: false, reason: "outOfRange" });
    expect(coerceValue(70000, "UInt16")).toMatchObject({ ok: false, reason: "outOfRange" });
    expect(coerceValue(-129, "SByte")).toMatchObject({ ok: false, reason: "outOfRange" });
  });

  it("reads Booleans from true/false/1/0 only", () => {
    expect(coerceValue("TRUE", "Boolean")).toEqual({ ok: true, value: true });
    expect(coerceValue(0, "Boolean")).toEqual({ ok: true, value: false });
    expect(coerceValue("yes", "Boolean")).toMatchObject({ ok: false, reason: "typeMismatch" });
  });

  it("makes text of any scalar for a String, and a Date of ISO or epoch for a DateTime", () => {
    expect(coerceValue(12, "String")).toEqual({ ok: true, value: "12" });
    expect(coerceValue({ a: 1 }, "String")).toEqual({ ok: true, value: '{"a":1}' });
    expect(coerceValue("2026-01-01T00:00:00Z", "DateTime")).toEqual({
      ok: true,
      value: new Date("2026-01-01T00:00:00Z"),
    });
    expect(coerceValue("soon", "DateTime")).toMatchObject({ ok: false, reason: "typeMismatch" });
  });
});

describe("status topics", () => {
  it("names the device of a status topic and gives the subscription filter", async () => {
    const { StatusTopics, parseStatus } = await import("../../src/mapping/device-status-topic.js");
    const t = new StatusTopics("status/{deviceType}/{deviceName}/{deviceSource}");
    expect(t.filter).toBe("status/+/+/+");
    expect(t.match("status/3WA/Feeder 01/ETU")).toEqual({
      deviceType: "3WA",
      deviceName: "Feeder 01",
      deviceSource: "ETU",
    });
    expect(t.match("status/3WA/Feeder 01")).toBeNull();
    expect(t.match("11/5/3WA/Feeder 01/ETU")).toBeNull();
    expect(StatusTopics.missingPlaceholders("status/{deviceName}")).toEqual(["deviceType", "deviceSource"]);
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(parseStatus(enc("Offline"))).toBe(false);
    expect(parseStatus(enc("1"))).toBe(true);
    expect(parseStatus(enc('{"status": "online"}'))).toBe(true);
    expect(parseStatus(enc('{"online": false}'))).toBe(false);
    expect(parseStatus(enc("maybe"))).toBeNull();
  });
});
