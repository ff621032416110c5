import type { PayloadQuality } from "./point-status.js";

/** Why a payload was rejected; each is a counter in the gateway's diagnostics. */
export type DecodeFailure =
  | "invalidUtf8"
  | "empty"
  | "invalidJson"
  | "noValue"
  | "badTimestamp"
  | "badQuality"
  | "typeMismatch"
  | "outOfRange"
  | "notFinite";

export type Decoded =
  | { ok: true; value: unknown; sourceTimestamp: Date | null; quality: PayloadQuality }
  | { ok: false; reason: DecodeFailure; detail: string };

const VALUE_KEYS = ["value", "val", "v"] as const;
const TIME_KEYS = ["ts", "timestamp", "time"] as const;
const QUALITY_KEYS = ["quality", "qc", "status"] as const;
const utf8 = new TextDecoder("utf-8", { fatal: true });

const fail = (reason: DecodeFailure, detail: string): Decoded => ({ ok: false, reason, detail });

/**
 * Decodes one payload in any of the shapes the data-model notes accept (errata 7): a plain text
 * scalar, a JSON scalar, a JSON object with value/timestamp/quality, or the Industrial Edge Databus
 * `vals` array. `wholeTextIsValue` is set for String points, whose value may itself be JSON (48/0
 * Config): a JSON document without a value key is then taken whole, as text.
 */
export function decodePayload(payload: Uint8Array, topicId: string, wholeTextIsValue: boolean): Decoded {
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return fail("invalidUtf8", "payload is not valid UTF-8");
  }
  const trimmed = text.trim();
  if (trimmed === "") return fail("empty", "payload is empty");
  const first = trimmed.charCodeAt(0);
  // { [ " start JSON documents; anything else is a plain scalar (230.4, true, OK), coerced later.
  if (first !== 0x7b && first !== 0x5b && first !== 0x22) return plain(trimmed);

  let doc: unknown;
  try {
    doc = JSON.parse(trimmed);
  } catch (err) {
    return wholeTextIsValue ? plain(trimmed) : fail("invalidJson", (err as Error).message);
  }
  if (typeof doc !== "object" || doc === null) return plain(doc);
  if (Array.isArray(doc))
    return wholeTextIsValue ? plain(trimmed) : fail("noValue", "a JSON array is not a value");

  const obj = doc as Record<string, unknown>;
  if (Object.hasOwn(obj, "vals")) {
    const entry = pickVal(obj.vals, topicId);
    if (!entry) return fail("noValue", "'vals' holds no entry with a value");
    return sample(entry, obj);
  }
  if (VALUE_KEYS.some((k) => Object.hasOwn(obj, k))) return sample(obj, obj);
  return wholeTextIsValue ? plain(trimmed) : fail("noValue", "JSON object has no value, val or v key");
}

function plain(value: unknown): Decoded {
  return { ok: true, value, sourceTimestamp: null, quality: "good" };
}

/** In a Databus `vals` array: the entry whose id is this topic id, else the newest, else the last. */
function pickVal(vals: unknown, topicId: string): Record<string, unknown> | null {
  if (!Array.isArray(vals)) return null;
  const entries = vals.filter(
    (e): e is Record<string, unknown> =>
      typeof e === "object" && e !== null && VALUE_KEYS.some((k) => Object.hasOwn(e, k)),
  );
  if (entries.length === 0) return null;
  const byId = entries.find((e) => e.id === topicId);
  if (byId) return byId;
  let best = entries[entries.length - 1]!;
  let bestTime = -Infinity;
  for (const e of entries) {
    const t = parseTimestamp(firstOf(e, TIME_KEYS));
    if (t instanceof Date && t.getTime() >= bestTime) {
      bestTime = t.getTime();
      best = e;
    }
  }
  return best;
}

function firstOf(obj: Record<string, unknown>, keys: readonly string[]): unknown {
  for (const k of keys) if (Object.hasOwn(obj, k)) return obj[k];
  return undefined;
}

function sample(entry: Record<string, unknown>, envelope: Record<string, unknown>): Decoded {
  const value = firstOf(entry, VALUE_KEYS);
  if (value === null || value === undefined) return fail("noValue", "value is null");
  const rawTime = firstOf(entry, TIME_KEYS) ?? firstOf(envelope, TIME_KEYS);
  const time = parseTimestamp(rawTime);
  if (time === "invalid") return fail("badTimestamp", `cannot read timestamp ${jsonOf(rawTime)}`);
  const rawQuality = firstOf(entry, QUALITY_KEYS);
  const quality = parseQuality(rawQuality, Object.hasOwn(entry, "qc"));
  if (quality === null) return fail("badQuality", `cannot read quality ${jsonOf(rawQuality)}`);
  return { ok: true, value, sourceTimestamp: time, quality };
}

/**
 * JSON text of a decoded value, or undefined where there is none: JSON.stringify recurses, and a
 * payload within mapping.maxPayloadBytes can nest deeper than the stack allows (RangeError).
 */
export function jsonOf(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

/** ISO 8601, or epoch seconds / milliseconds (numbers below 1e11 are taken as seconds). */
export function parseTimestamp(raw: unknown): Date | null | "invalid" {
  if (raw === undefined || raw === null) return null;
  let ms: number;
  if (typeof raw === "number") ms = Math.abs(raw) < 1e11 ? raw * 1000 : raw;
  else if (typeof raw === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(raw)) return parseTimestamp(Number(raw));
  else if (typeof raw === "string") ms = Date.parse(raw);
  else return "invalid";
  // OPC UA DateTime spans 1601..9999; anything outside is a broken clock, not a time.
  if (!Number.isFinite(ms) || ms < -11644473600000 || ms > 253402300799999) return "invalid";
  return new Date(ms);
}

/**
 * good/uncertain/bad in any case; an OPC UA StatusCode number (severity in the top two bits);
 * Industrial Edge `qc`: 0 bad, 1 uncertain, 2 good (non-cascade), 3 good (cascade).
 */
function parseQuality(raw: unknown, isQc: boolean): PayloadQuality | null {
  if (raw === undefined) return "good";
  if (typeof raw === "string") {
    const s = raw.trim().toLowerCase();
    return s === "good" || s === "uncertain" || s === "bad" ? s : null;
  }
  if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 0) return null;
  if (isQc) return raw === 0 ? "bad" : raw === 1 ? "uncertain" : raw <= 3 ? "good" : null;
  if (raw > 0xffffffff) return null;
  const severity = raw >>> 30;
  return severity === 0 ? "good" : severity === 1 ? "uncertain" : "bad";
}
