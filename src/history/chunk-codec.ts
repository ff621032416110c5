/**
 * The packed form of a run of one point's history records (a chunk): what keeps a stored Double
 * at ~12 bytes (README, History: storage). Per record, in source-time order:
 *
 *   flags (1 byte: value kind in bits 0-2, Boolean value in bit 3, status changed in bit 4)
 *   zig-zag varint: source time minus the previous record's (the first: minus the chunk's start)
 *   zig-zag varint: (server time - source time) minus the previous record's offset
 *   varint status code, only when it differs from the previous record's (the first: from Good)
 *   the value: Float64 for numbers and DateTimes, varint length + UTF-8 for strings
 */

/** One stored record: a value as the variable showed it, with its timestamps and status. */
export interface HistoryRecord {
  value: number | boolean | string | Date | null;
  /** Epoch ms. */
  sourceTime: number;
  /** Epoch ms. */
  serverTime: number;
  /** The OPC UA StatusCode value. */
  status: number;
}

const KIND_NULL = 0;
const KIND_NUMBER = 1;
const KIND_BOOLEAN = 2;
const KIND_STRING = 3;
const KIND_DATE = 4;
const BOOLEAN_TRUE = 0x08;
const STATUS_CHANGED = 0x10;

/** Grows as it is written; one per encode, so no state leaks between chunks. */
class Writer {
  buf = Buffer.allocUnsafe(256);
  pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  /** Unsigned, up to 2^53: arithmetic, not bit operations, which stop at 32 bits. */
  varint(n: number): void {
    this.room(8);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  zigzag(n: number): void {
    this.varint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  double(d: number): void {
    this.room(8);
    this.buf.writeDoubleLE(d, this.pos);
    this.pos += 8;
  }

  text(s: string): void {
    const bytes = Buffer.from(s, "utf8");
    this.varint(bytes.length);
    this.room(bytes.length);
    bytes.copy(this.buf, this.pos);
    this.pos += bytes.length;
  }
}

/** Packs records (sorted by source time) whose first source time is `start`. */
export function encodeChunk(records: readonly HistoryRecord[], start: number): Buffer {
  const w = new Writer();
  let time = start;
  let offset = 0;
  let status = 0;
  for (const r of records) {
    const v = r.value;
    let flags: number;
    if (v === null) flags = KIND_NULL;
    else if (typeof v === "number") flags = KIND_NUMBER;
    else if (typeof v === "boolean") flags = v ? KIND_BOOLEAN | BOOLEAN_TRUE : KIND_BOOLEAN;
    else if (typeof v === "string") flags = KIND_STRING;
    else flags = KIND_DATE;
    if (r.status !== status) flags |= STATUS_CHANGED;
    w.byte(flags);
    w.zigzag(r.sourceTime - time);
    w.zigzag(r.serverTime - r.sourceTime - offset);
    if (r.status !== status) w.varint(r.status >>> 0);
    if (typeof v === "number") w.double(v);
    else if (typeof v === "string") w.text(v);
    else if (v instanceof Date) w.double(v.getTime());
    time = r.sourceTime;
    offset = r.serverTime - r.sourceTime;
    status = r.status;
  }
  return Buffer.from(w.buf.subarray(0, w.pos));
}

/** Reads a chunk's records one field at a time (the layout above). */
class ChunkReader {
  pos = 0;
  time: number;
  offset = 0;
  status = 0;
  readonly view: Buffer;

  constructor(buf: Uint8Array, start: number) {
    this.view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    this.time = start;
  }

  get more(): boolean {
    return this.pos < this.view.length;
  }

  /** The next record's flags, with its times and status read into the fields. */
  next(): number {
    const flags = this.view[this.pos++]!;
    this.time += this.zigzag();
    this.offset += this.zigzag();
    if (flags & STATUS_CHANGED) this.status = this.varint();
    return flags;
  }

  double(): number {
    const d = this.view.readDoubleLE(this.pos);
    this.pos += 8;
    return d;
  }

  text(): string {
    const length = this.varint();
    const s = this.view.toString("utf8", this.pos, this.pos + length);
    this.pos += length;
    return s;
  }

  varint(): number {
    let n = 0;
    let scale = 1;
    for (;;) {
      const b = this.view[this.pos++]!;
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 0x80;
    }
  }

  private zigzag(): number {
    const z = this.varint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }
}

/** Unpacks what encodeChunk packed; calls `each` per record, in order, without building an array. */
export function decodeChunk(buf: Uint8Array, start: number, each: (record: HistoryRecord) => void): void {
  const r = new ChunkReader(buf, start);
  while (r.more) {
    const flags = r.next();
    let value: HistoryRecord["value"] = null;
    switch (flags & 0x07) {
      case KIND_NUMBER:
        value = r.double();
        break;
      case KIND_BOOLEAN:
        value = (flags & BOOLEAN_TRUE) !== 0;
        break;
      case KIND_STRING:
        value = r.text();
        break;
      case KIND_DATE:
        value = new Date(r.double());
        break;
    }
    each({ value, sourceTime: r.time, serverTime: r.time + r.offset, status: r.status });
  }
}

/** Where decodeNumbers puts a record: its source time, its value as a number (NaN: none), its status. */
export type NumberSink = (time: number, value: number, status: number) => void;

/**
 * Unpacks a chunk's records as numbers, for aggregates (a Boolean is 0 or 1, a DateTime its epoch
 * ms, a String NaN): no record object, no Date, no string is made.
 */
export function decodeNumbers(buf: Uint8Array, start: number, each: NumberSink): void {
  const r = new ChunkReader(buf, start);
  while (r.more) {
    const flags = r.next();
    let value = Number.NaN;
    switch (flags & 0x07) {
      case KIND_NUMBER:
      case KIND_DATE:
        value = r.double();
        break;
      case KIND_BOOLEAN:
        value = (flags & BOOLEAN_TRUE) !== 0 ? 1 : 0;
        break;
      case KIND_STRING:
        r.pos += r.varint();
        break;
    }
    each(r.time, value, r.status);
  }
}

/** Every record of a chunk, as an array. */
export function decodeRecords(buf: Uint8Array, start: number): HistoryRecord[] {
  const records: HistoryRecord[] = [];
  decodeChunk(buf, start, (r) => records.push(r));
  return records;
}
