import { type DataTypeName, INTEGER_RANGES } from "../model/catalog-types.js";
import { type DecodeFailure, jsonOf, parseTimestamp } from "./payload.js";

export type Coerced =
  | { ok: true; value: number | boolean | string | Date }
  | { ok: false; reason: DecodeFailure; detail: string };

const FLOAT_MAX = 3.4028234663852886e38;

const mismatch = (value: unknown, dataType: string): Coerced => ({
  ok: false,
  reason: "typeMismatch",
  detail: `${jsonOf(value)?.slice(0, 64)} is not a ${dataType}`,
});

/** Converts a decoded value to the point's OPC UA type, never rounding or guessing silently. */
export function coerceValue(value: unknown, dataType: DataTypeName): Coerced {
  switch (dataType) {
    case "Double":
    case "Float": {
      const n = toNumber(value);
      if (n === null) return mismatch(value, dataType);
      if (!Number.isFinite(n))
        return { ok: false, reason: "notFinite", detail: `${n} is not a finite number` };
      if (dataType === "Float" && Math.abs(n) > FLOAT_MAX)
        return { ok: false, reason: "outOfRange", detail: `${n} exceeds Float` };
      return { ok: true, value: n };
    }
    case "Boolean": {
      if (typeof value === "boolean") return { ok: true, value };
      // Only text and numbers: String() of a JSON object may throw (a "toString" key) or recurse.
      if (typeof value !== "string" && typeof value !== "number") return mismatch(value, dataType);
      const s = String(value).trim().toLowerCase();
      if (s === "true" || s === "1") return { ok: true, value: true };
      if (s === "false" || s === "0") return { ok: true, value: false };
      return mismatch(value, dataType);
    }
    case "String": {
      if (typeof value === "string") return { ok: true, value };
      if (typeof value === "number" || typeof value === "boolean") return { ok: true, value: String(value) };
      const json = jsonOf(value);
      return json === undefined ? mismatch(value, dataType) : { ok: true, value: json };
    }
    case "DateTime": {
      const t = parseTimestamp(value);
      return t instanceof Date ? { ok: true, value: t } : mismatch(value, dataType);
    }
    default: {
      const [min, max] = INTEGER_RANGES[dataType]!;
      const n = toNumber(value);
      if (n === null || !Number.isInteger(n)) return mismatch(value, dataType);
      if (n < min || n > max)
        return { ok: false, reason: "outOfRange", detail: `${n} is outside ${dataType} [${min}, ${max}]` };
      return { ok: true, value: n };
    }
  }
}

function toNumber(value: unknown): number | null {
  if (typeof value === "number") return value;
  if (typeof value === "string") {
    const s = value.trim();
    if (s === "") return null;
    const n = Number(s);
    // Number("0x10") and Number("1e3") parse; "NaN"/"Infinity" are reported as not finite.
    return Number.isNaN(n) && s !== "NaN" ? null : n;
  }
  return null;
}
