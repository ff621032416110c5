import type { BinaryStream } from "node-opcua";
import { DataType, HistoryData } from "../../shared/node-opcua.js";
import type { HistoryValue } from "../ports.js";

/**
 * A value as HistoryRead returns it (a stored one, or an aggregate's, whose status carries the
 * Part 13 info bits); its Variant type is the variable's (or the aggregate's, Part 13).
 */
export type EncodableValue = HistoryValue;

/** DataValue encoding mask bits (Part 6 5.2.2.17). */
const HAS_VALUE = 0x01;
const HAS_STATUS = 0x02;
const HAS_SOURCE_TIME = 0x04;
const HAS_SERVER_TIME = 0x08;
/** Part 6 5.2.2.5: DateTime is 100 ns since 1601-01-01, epoch ms + this, times 10,000. */
const EPOCH_1601_MS = 11_644_473_600_000;
const TWO_32 = 2 ** 32;

/** Variant encoding byte per built-in type (Part 6 5.1.2, 5.2.2.16); String is written apart. */
const FIXED_SIZE: Partial<Record<DataType, number>> = {
  [DataType.Boolean]: 1,
  [DataType.SByte]: 1,
  [DataType.Byte]: 1,
  [DataType.Int16]: 2,
  [DataType.UInt16]: 2,
  [DataType.Int32]: 4,
  [DataType.UInt32]: 4,
  [DataType.Float]: 4,
  [DataType.Double]: 8,
  [DataType.DateTime]: 8,
};

/** Writes into a Buffer that grows by doubling. */
class Out {
  buf = Buffer.allocUnsafe(1 << 16);
  pos = 0;

  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  /** An OPC UA DateTime; epoch ms before 1601 is 0 (Part 6 5.2.2.5 a). */
  dateTime(ms: number): void {
    const t = Math.max(0, ms + EPOCH_1601_MS);
    // 100 ns units exceed 2^53: the product is taken in two 32-bit halves, each exact.
    const high = Math.floor(t / TWO_32);
    const low = (t - high * TWO_32) * 10_000;
    const carry = Math.floor(low / TWO_32);
    this.buf.writeUInt32LE(low - carry * TWO_32, this.pos);
    this.buf.writeUInt32LE(high * 10_000 + carry, this.pos + 4);
    this.pos += 8;
  }
}

/** The value of a Variant of `type`, as a stored value takes it (a Boolean aggregate may be 0/1). */
function writeScalar(out: Out, type: DataType, v: number | boolean | string | Date): void {
  const b = out.buf;
  const p = out.pos;
  const n =
    typeof v === "number"
      ? v
      : typeof v === "boolean"
        ? Number(v)
        : v instanceof Date
          ? v.getTime()
          : Number(v);
  switch (type) {
    case DataType.Boolean:
      b[p] = n !== 0 ? 1 : 0;
      break;
    case DataType.SByte:
      b.writeInt8(Math.round(n), p);
      break;
    case DataType.Byte:
      b.writeUInt8(Math.round(n), p);
      break;
    case DataType.Int16:
      b.writeInt16LE(Math.round(n), p);
      break;
    case DataType.UInt16:
      b.writeUInt16LE(Math.round(n), p);
      break;
    case DataType.Int32:
      b.writeInt32LE(Math.round(n), p);
      break;
    case DataType.UInt32:
      b.writeUInt32LE(Math.round(n), p);
      break;
    case DataType.Float:
      b.writeFloatLE(n, p);
      break;
    case DataType.Double:
      b.writeDoubleLE(n, p);
      break;
    case DataType.DateTime:
      out.dateTime(n);
      return;
  }
  out.pos += FIXED_SIZE[type]!;
}

/**
 * The body of a HistoryData (Part 11 6.5.2: an array of DataValues, Part 6 5.2.2.17), encoded
 * straight from stored values: 86,400 DataValue objects cost ~5 µs each to build and node-opcua
 * another ~7 µs each to encode (measured), which a day of 1 Hz values in one response would pay.
 */
export function encodeHistoryData(
  values: readonly EncodableValue[],
  type: DataType,
  timestamps: { source: boolean; server: boolean } = { source: true, server: true },
): Buffer {
  const out = new Out();
  out.room(4);
  out.buf.writeInt32LE(values.length, 0);
  out.pos = 4;
  const fixed = FIXED_SIZE[type];
  for (const r of values) {
    const v = r.value;
    const text = v === null || fixed !== undefined ? null : Buffer.from(String(v), "utf8");
    out.room(1 + 1 + (text ? 4 + text.length : 8) + 4 + 16);
    let mask = (timestamps.source ? HAS_SOURCE_TIME : 0) | (timestamps.server ? HAS_SERVER_TIME : 0);
    if (v !== null) mask |= HAS_VALUE;
    if (r.status !== 0) mask |= HAS_STATUS;
    out.buf[out.pos++] = mask;
    if (v !== null) {
      out.buf[out.pos++] = text ? DataType.String : type;
      if (text) {
        out.buf.writeInt32LE(text.length, out.pos);
        text.copy(out.buf, out.pos + 4);
        out.pos += 4 + text.length;
      } else writeScalar(out, type, v);
    }
    if (r.status !== 0) {
      out.buf.writeUInt32LE(r.status >>> 0, out.pos);
      out.pos += 4;
    }
    if (timestamps.source) out.dateTime(r.sourceTime);
    if (timestamps.server) out.dateTime(r.serverTime);
  }
  return out.buf.subarray(0, out.pos);
}

/**
 * A HistoryData whose DataValues are already encoded (encodeHistoryData): node-opcua writes an
 * ExtensionObject's body with the object's encode(stream) (node-opcua-extension-object
 * encodeExtensionObject, 2.182.2), which here copies the bytes. A client decodes an ordinary
 * HistoryData. Only encoded (a response), never decoded.
 */
export class EncodedHistoryData extends HistoryData {
  constructor(private readonly bytes: Buffer) {
    super();
  }

  override encode(stream: BinaryStream): void {
    stream.writeArrayBuffer(this.bytes.buffer as ArrayBuffer, this.bytes.byteOffset, this.bytes.length);
  }
}
