/** MQTT 3.1.1 packets written byte by byte, for tests that speak to a broker from a raw socket. */

/** The remaining length, a variable byte integer (§2.2.3). */
export function remainingLength(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    bytes.push(b);
  } while (n > 0);
  return Buffer.from(bytes);
}

/** A packet: its first byte (type and flags), the remaining length, the body. */
export const packet = (first: number, ...body: Buffer[]) => {
  const rest = Buffer.concat(body);
  return Buffer.concat([Buffer.from([first]), remainingLength(rest.length), rest]);
};

/** A length-prefixed string (§1.5.3), from text or from raw bytes (which may be ill-formed). */
export const str = (s: string | Buffer) => {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};

/** A QoS 0 PUBLISH (§3.3). */
export const publishPacket = (topic: string | Buffer, payload = Buffer.from("{}")) =>
  packet(0x30, str(topic), payload);

/** CONNECT, MQTT 3.1.1, clean session, keep-alive 60 s (§3.1). */
export const connectPacket = (clientId: string) =>
  packet(0x10, str("MQTT"), Buffer.from([4, 2, 0, 60]), str(clientId));
