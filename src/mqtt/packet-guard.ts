import { isUtf8 } from "node:buffer";

/** Why the guard closed a connection. */
export type PacketRefusal =
  | { reason: "packetTooLarge"; size: number }
  | { reason: "invalidTopic"; problem: "U+0000" | "invalid UTF-8" };

const PUBLISH = 3;
/** The largest remaining length four bytes can encode (MQTT 3.1.1 §2.2.3). */
const MAX_REMAINING_LENGTH = 268_435_455;

enum Phase {
  Type,
  Length,
  TopicLength,
  Topic,
  Skip,
}

/**
 * Follows the MQTT packets of one connection through its raw bytes, ahead of mqtt-packet, which
 * buffers a whole packet before it looks at it (a CONNECT claiming 256 MiB was held in full).
 * From each fixed header's remaining length (§2.2.3) it refuses a packet larger than the limit
 * before its body arrives; it checks PUBLISH topic names byte by byte because mqtt-packet decodes
 * them with Buffer.toString, which turns ill-formed UTF-8 into U+FFFD that nobody can tell from
 * the real character afterwards. It reads the bytes where they are: nothing is copied except a
 * topic name split across two reads.
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
  /** Pieces of a topic name that spans reads (rare: a PUBLISH cut by a TCP segment boundary). */
  private topicPieces: Buffer[] = [];
  private topicSeen = 0;

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
          if (this.type === PUBLISH && this.remaining >= 2) {
            this.phase = Phase.TopicLength;
            this.topicLength = 0;
            this.topicLengthBytes = 0;
          } else this.phase = this.remaining === 0 ? Phase.Type : Phase.Skip;
          break;
        }
        case Phase.TopicLength:
          this.topicLength = (this.topicLength << 8) | chunk[i++]!;
          this.remaining--;
          if (++this.topicLengthBytes === 2) {
            // A length beyond the packet is mqtt-packet's to refuse as malformed.
            if (this.topicLength > this.remaining) this.phase = Phase.Skip;
            else {
              this.phase = Phase.Topic;
              this.topicSeen = 0;
            }
          }
          break;
        case Phase.Topic: {
          const need = this.topicLength - this.topicSeen;
          const take = Math.min(need, n - i);
          let problem: ReturnType<typeof topicProblem> | undefined;
          if (take === need && this.topicSeen === 0) problem = topicProblem(chunk, i, i + take);
          else {
            // Copied: a view would keep the whole read buffer alive until the topic completes.
            this.topicPieces.push(Buffer.from(chunk.subarray(i, i + take)));
            this.topicSeen += take;
            if (take === need) {
              const topic = Buffer.concat(this.topicPieces);
              this.topicPieces = [];
              problem = topicProblem(topic, 0, topic.length);
            }
          }
          i += take;
          this.remaining -= take;
          if (problem) return { reason: "invalidTopic", problem };
          // null: the topic is whole and well-formed; undefined: more of it comes in the next read.
          if (problem === null) this.phase = this.remaining === 0 ? Phase.Type : Phase.Skip;
          break;
        }
      }
    }
    return null;
  }
}

/** [MQTT-1.5.3-1] ill-formed UTF-8 and [MQTT-1.5.3-2] U+0000 close the connection. */
function topicProblem(buf: Buffer, start: number, end: number): "U+0000" | "invalid UTF-8" | null {
  // Device topics are ASCII: a plain loop over the bytes where they are settles them without a
  // view or a native call.
  let ascii = true;
  for (let k = start; k < end; k++) {
    const b = buf[k]!;
    if (b === 0) return "U+0000";
    if (b >= 0x80) ascii = false;
  }
  return ascii || isUtf8(buf.subarray(start, end)) ? null : "invalid UTF-8";
}
