import { isUtf8 } from "node:buffer";

/** Which string of a packet was not well-formed UTF-8 (MQTT 3.1.1 §1.5.3). */
export type StringField = "topic" | "will topic" | "topic filter" | "client id" | "username";

/** Why the guard closed a connection. */
export type PacketRefusal =
  | { reason: "packetTooLarge"; size: number }
  | { reason: "invalidUtf8"; field: StringField; problem: "U+0000" | "ill-formed UTF-8" };

const CONNECT = 1;
const PUBLISH = 3;
const SUBSCRIBE = 8;
const UNSUBSCRIBE = 10;
/** The largest remaining length four bytes can encode (MQTT 3.1.1 §2.2.3). */
const MAX_REMAINING_LENGTH = 268_435_455;

enum Phase {
  Type,
  Length,
  TopicLength,
  Topic,
  /** A whole CONNECT, SUBSCRIBE or UNSUBSCRIBE, whose strings are checked once it is complete. */
  Body,
  Skip,
}

/**
 * Follows the MQTT packets of one connection through its raw bytes, ahead of mqtt-packet, which
 * buffers a whole packet before it looks at it (a CONNECT claiming 256 MiB was held in full).
 * From each fixed header's remaining length (§2.2.3) it refuses a packet larger than the limit
 * before its body arrives. It checks the strings that name topics and clients byte by byte,
 * because mqtt-packet decodes them with Buffer.toString, which turns ill-formed UTF-8 into U+FFFD
 * that nobody can tell from the real character afterwards: a PUBLISH topic as it streams by (the
 * payload may be large), a CONNECT (client id, will topic, username), SUBSCRIBE or UNSUBSCRIBE
 * (filters) once whole. It reads the bytes where they are; only a topic or one of those packets
 * split across two reads is copied, at most broker.maxPacketSize bytes.
 */
export class PacketScanner {
  private phase = Phase.Type;
  private type = 0;
  /** Remaining length being decoded, then the bytes of the packet not yet seen. */
  private remaining = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private topicLength = 0;
  private topicLengthBytes = 0;
  /** Bytes to gather before they are checked: a PUBLISH topic or a whole Body packet. */
  private wanted = 0;
  /** Pieces of what spans reads (rare: a packet cut by a TCP segment boundary). */
  private pieces: Buffer[] = [];
  private seen = 0;

  constructor(private readonly maxPacketSize: number) {}

  /** Scans the next bytes of the stream; a refusal means the connection must close now. */
  scan(chunk: Buffer): PacketRefusal | null {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      switch (this.phase) {
        case Phase.Skip: {
          const take = Math.min(this.remaining, n - i);
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.phase = Phase.Type;
          break;
        }
        case Phase.Type:
          this.type = chunk[i++]! >> 4;
          this.remaining = 0;
          this.multiplier = 1;
          this.lengthBytes = 0;
          this.phase = Phase.Length;
          break;
        case Phase.Length: {
          const byte = chunk[i++]!;
          this.remaining += (byte & 0x7f) * this.multiplier;
          this.multiplier *= 128;
          this.lengthBytes++;
          // A fifth length byte is malformed; it claims more than any limit anyway.
          if (byte & 0x80) {
            if (this.lengthBytes === 4) return { reason: "packetTooLarge", size: MAX_REMAINING_LENGTH + 1 };
            break;
          }
          // The limit counts the whole packet, fixed header included, as mosquitto's max_packet_size.
          const size = 1 + this.lengthBytes + this.remaining;
          if (size > this.maxPacketSize) return { reason: "packetTooLarge", size };
          this.phase = this.nextPhase();
          break;
        }
        case Phase.TopicLength:
          this.topicLength = (this.topicLength << 8) | chunk[i++]!;
          this.remaining--;
          if (++this.topicLengthBytes === 2) {
            // A length beyond the packet is mqtt-packet's to refuse as malformed.
            if (this.topicLength > this.remaining) this.phase = Phase.Skip;
            else this.gather(Phase.Topic, this.topicLength);
          }
          break;
        case Phase.Topic:
        case Phase.Body: {
          const took = Math.min(this.wanted - this.seen, n - i);
          let refusal: PacketRefusal | null;
          if (this.phase === Phase.Topic && this.seen === 0 && took === this.wanted) {
            // The common case, checked in place.
            refusal = stringProblem("topic", chunk, i, i + took);
            this.remaining -= took;
          } else {
            const whole = this.take(chunk, i, took);
            if (!whole) {
              i += took;
              break;
            }
            refusal =
              this.phase === Phase.Topic
                ? stringProblem("topic", whole, 0, whole.length)
                : stringsProblem(this.type, whole);
          }
          i += took;
          if (refusal) return refusal;
          this.phase = this.remaining === 0 ? Phase.Type : Phase.Skip;
          break;
        }
      }
    }
    return null;
  }

  /** After a fixed header: what the scanner reads of this packet. */
  private nextPhase(): Phase {
    if (this.type === PUBLISH && this.remaining >= 2) {
      this.topicLength = 0;
      this.topicLengthBytes = 0;
      return Phase.TopicLength;
    }
    if (
      this.remaining > 0 &&
      (this.type === CONNECT || this.type === SUBSCRIBE || this.type === UNSUBSCRIBE)
    ) {
      this.gather(Phase.Body, this.remaining);
      return Phase.Body;
    }
    return this.remaining === 0 ? Phase.Type : Phase.Skip;
  }

  private gather(phase: Phase, bytes: number): void {
    this.phase = phase;
    this.wanted = bytes;
    this.seen = 0;
  }

  /**
   * Takes `took` bytes of what is being gathered from `chunk` at `i`: all of it when complete (a
   * view when it lies in this chunk, else the pieces joined), or null when more must come.
   */
  private take(chunk: Buffer, i: number, took: number): Buffer | null {
    this.remaining -= took;
    if (this.seen === 0 && took === this.wanted) return chunk.subarray(i, i + took);
    // Copied: a view would keep the whole read buffer alive until the rest arrives.
    this.pieces.push(Buffer.from(chunk.subarray(i, i + took)));
    this.seen += took;
    if (this.seen < this.wanted) return null;
    const whole = Buffer.concat(this.pieces);
    this.pieces = [];
    return whole;
  }
}

/** The first string of a CONNECT, SUBSCRIBE or UNSUBSCRIBE body that is not well-formed UTF-8. */
function stringsProblem(type: number, body: Buffer): PacketRefusal | null {
  // Lengths that run past the body are malformed: mqtt-packet refuses those itself.
  let at = 0;
  /** The string at `at` (checked as `field`, when given); moves past it. */
  const next = (field?: StringField): PacketRefusal | null | undefined => {
    if (at + 2 > body.length) return undefined;
    const end = at + 2 + body.readUInt16BE(at);
    if (end > body.length) return undefined;
    const problem = field ? stringProblem(field, body, at + 2, end) : null;
    at = end;
    return problem;
  };
  if (type === CONNECT) {
    if (next() === undefined || at + 4 > body.length) return null;
    const level = body[at]!;
    const flags = body[at + 1]!;
    at += 4;
    // MQTT 5 puts properties here (aedes speaks 3.1 and 3.1.1): left to mqtt-packet and aedes.
    if (level !== 3 && level !== 4) return null;
    const fields: (StringField | undefined)[] = ["client id"];
    if (flags & 0x04) fields.push("will topic", undefined);
    if (flags & 0x80) fields.push("username");
    for (const field of fields) {
      const r = next(field);
      if (r !== null) return r ?? null;
    }
    return null;
  }
  at = 2; // the packet identifier
  while (at < body.length) {
    const r = next("topic filter");
    if (r !== null) return r ?? null;
    if (type === SUBSCRIBE) at++; // the requested QoS
  }
  return null;
}

/** [MQTT-1.5.3-1] ill-formed UTF-8 and [MQTT-1.5.3-2] U+0000 close the connection. */
function stringProblem(field: StringField, buf: Buffer, start: number, end: number): PacketRefusal | null {
  // Device topics are ASCII: a plain loop over the bytes where they are settles them without a
  // view or a native call.
  let ascii = true;
  for (let k = start; k < end; k++) {
    const b = buf[k]!;
    if (b === 0) return { reason: "invalidUtf8", field, problem: "U+0000" };
    if (b >= 0x80) ascii = false;
  }
  return ascii || isUtf8(buf.subarray(start, end))
    ? null
    : { reason: "invalidUtf8", field, problem: "ill-formed UTF-8" };
}
