import { describe, expect, it } from "vitest";
import { buildConfig } from "../../src/config/config-loader.js";
import { PacketScanner } from "../../src/mqtt/packet-guard.js";
import { RetainedBudget } from "../../src/mqtt/retained-budget.js";
import { parseYamlText } from "../../src/shared/yaml-source.js";
import { packet, publishPacket as publish, remainingLength, str } from "../harness/mqtt-wire.js";

/** Strings MQTT 3.1.1 §1.5.3 refuses, and the problem the scanner names. */
const BAD_STRINGS: [Buffer, string][] = [
  [Buffer.from("3WA/A\u0000B/ETU"), "U+0000"],
  [Buffer.from([0x31, 0x31, 0x2f, 0xff, 0x2f, 0x35]), "ill-formed UTF-8"],
  // An overlong NUL (C0 80) and a UTF-16 surrogate (ED A0 80) are ill-formed too.
  [Buffer.from([0x31, 0xc0, 0x80]), "ill-formed UTF-8"],
  [Buffer.from([0x31, 0xed, 0xa0, 0x80]), "ill-formed UTF-8"],
];

/** Feeds `bytes` to a scanner in pieces of `size` bytes; the first refusal, or null. */
function scanInPieces(scanner: PacketScanner, bytes: Buffer, size: number) {
  for (let i = 0; i < bytes.length; i += size) {
    const r = scanner.scan(bytes.subarray(i, i + size));
    if (r) return r;
  }
  return null;
}

describe("PacketScanner (the embedded broker's packet guard)", () => {
  it("refuses a CONNECT whose remaining length claims 256 MiB from its fixed header alone", () => {
    // 256 MiB − 1, the most four length bytes can say.
    const header = Buffer.concat([Buffer.from([0x10]), remainingLength(2 ** 28 - 1)]);
    expect(new PacketScanner(131072).scan(header)).toEqual({
      reason: "packetTooLarge",
      size: 1 + 4 + 2 ** 28 - 1,
    });
  });

  it("counts the fixed header in the limit, as mosquitto's max_packet_size, and passes a packet at the limit", () => {
    const p = publish("11/3WA/A/ETU/5", Buffer.alloc(100));
    expect(new PacketScanner(p.length).scan(p)).toBeNull();
    expect(new PacketScanner(p.length - 1).scan(p)).toMatchObject({ size: p.length });
  });

  it("refuses a fifth remaining-length byte (malformed, §2.2.3)", () => {
    expect(new PacketScanner(131072).scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toMatchObject({
      reason: "packetTooLarge",
    });
  });

  it("follows packet boundaries over any split of the stream, whatever the packets", () => {
    const stream = Buffer.concat([
      packet(0x10, str("MQTT"), Buffer.from([4, 2, 0, 60]), str("dev")),
      publish("11/3WA/A/ETU/5", Buffer.alloc(300, 0x31)),
      packet(0xc0),
      publish("21/3VA/Ü/ETU/7"),
      packet(0x82, Buffer.from([0, 1]), str("cmd/#"), Buffer.from([1])),
      publish("48/PAC/B/ETU/1", Buffer.alloc(0)),
    ]);
    for (const size of [1, 2, 3, 7, 64, stream.length])
      expect(scanInPieces(new PacketScanner(4096), stream, size)).toBeNull();
    // The same stream followed by one oversized packet: found at every split.
    const big = Buffer.concat([stream, publish("11/x", Buffer.alloc(5000))]);
    for (const size of [1, 5, 1000])
      expect(scanInPieces(new PacketScanner(4096), big, size)).toMatchObject({ reason: "packetTooLarge" });
  });

  it("refuses PUBLISH topics with U+0000 [MQTT-1.5.3-2] or ill-formed UTF-8 [MQTT-1.5.3-1], even split across reads", () => {
    for (const [bytes, problem] of BAD_STRINGS)
      for (const size of [1, 4, 100])
        expect(scanInPieces(new PacketScanner(4096), publish(bytes), size)).toEqual({
          reason: "invalidUtf8",
          field: "topic",
          problem,
        });
    // Well-formed non-ASCII and U+FFFD written as such are topics like any other.
    expect(new PacketScanner(4096).scan(publish("11/Schaltanlage-Süd/\uFFFD"))).toBeNull();
  });

  it("refuses the same in a CONNECT's client id, will topic and username, and in SUBSCRIBE and UNSUBSCRIBE filters", () => {
    const good = str("11/5/3WA/Feeder 01/ETU");
    /** CONNECT 3.1.1 with a will and a username and password (flags 0xc6). */
    const connect = (clientId: Buffer, willTopic: Buffer, username: Buffer) =>
      packet(
        0x10,
        str("MQTT"),
        Buffer.from([4, 0xc6, 0, 60]),
        str(clientId),
        str(willTopic),
        str("offline"),
        str(username),
        str("pw"),
      );
    const ok = Buffer.from("ok");
    const [bad, problem] = BAD_STRINGS[0]!;
    const cases: [Buffer, string][] = [
      [connect(bad, ok, ok), "client id"],
      [connect(ok, bad, ok), "will topic"],
      [connect(ok, ok, bad), "username"],
      [packet(0x82, Buffer.from([0, 1]), good, Buffer.from([1]), str(bad), Buffer.from([1])), "topic filter"],
      [packet(0xa2, Buffer.from([0, 1]), good, str(bad)), "topic filter"],
    ];
    for (const [bytes, field] of cases)
      for (const size of [1, 3, 1000])
        expect(scanInPieces(new PacketScanner(4096), bytes, size), field).toEqual({
          reason: "invalidUtf8",
          field,
          problem,
        });
    // The will message and the password are binary data, not strings: any bytes pass.
    const binary = packet(
      0x10,
      str("MQTT"),
      Buffer.from([4, 0xc6, 0, 60]),
      str("dev"),
      good,
      str(bad),
      str("user"),
      str(bad),
    );
    expect(new PacketScanner(4096).scan(binary)).toBeNull();
  });
});

describe("RetainedBudget", () => {
  const limits = { maxMessages: 4, maxBytes: 1000, maxMessagesPerClient: 3, maxBytesPerClient: 600 };

  it("admits retained messages within the bounds per client and in all, and no further", () => {
    const budget = new RetainedBudget(limits);
    expect(["a/1", "a/2", "a/3"].map((t) => budget.admit(t, "A", 10))).toEqual([true, true, true]);
    expect(budget.admit("a/4", "A", 10)).toBe(false);
    expect(budget.admit("b/1", "B", 10)).toBe(true);
    // Four in all: a fifth topic is refused whoever sends it.
    expect(budget.admit("c/1", "C", 10)).toBe(false);
    expect(budget.usage).toEqual({ messages: 4, bytes: 4 * 13 });
  });

  it("lets a topic's retained message be replaced in place, and freed by an empty payload", () => {
    const budget = new RetainedBudget(limits);
    expect(budget.admit("a/1", "A", 500)).toBe(true);
    expect(budget.admit("a/1", "A", 590)).toBe(true);
    expect(budget.admit("a/1", "A", 700)).toBe(false);
    expect(budget.admit("a/2", "A", 100)).toBe(false);
    // Another client taking the topic over carries it under its own bound.
    expect(budget.admit("a/1", "B", 400)).toBe(true);
    expect(budget.admit("a/2", "A", 500)).toBe(true);
    expect(budget.admit("a/1", "B", 0)).toBe(true);
    expect(budget.usage).toEqual({ messages: 1, bytes: 503 });
  });
});

describe("the embedded broker beyond loopback", () => {
  const configOf = (yaml: string) => buildConfig(parseYamlText(yaml, "test.yaml"), {});

  it("refuses to start without broker.users unless broker.allowAnonymousOnNetwork says so, naming the key", () => {
    const { problems } = configOf("broker:\n  host: 0.0.0.0\n");
    expect(problems).toEqual([
      {
        file: "test.yaml",
        line: 2,
        message:
          'broker.host "0.0.0.0" is not loopback and broker.users is empty: anyone who reaches the embedded broker could publish and subscribe. Add broker.users, or set broker.allowAnonymousOnNetwork: true to accept that risk',
      },
    ]);
    expect(configOf("broker: { host: 0.0.0.0, allowAnonymousOnNetwork: true }").problems).toEqual([]);
    for (const host of ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
      expect(configOf(`broker: { host: "${host}" }`).problems, host).toEqual([]);
    // An external broker: the embedded one does not run.
    expect(configOf("broker: { host: 0.0.0.0 }\nmqtt: { url: mqtt://broker:1883 }").problems).toEqual([]);
    // TLS only, with client certificates: no client is anonymous.
    const mtls =
      "broker: { host: 0.0.0.0, plainListener: false, tls: { enabled: true, certFile: a, keyFile: b, caFile: c, requireClientCertificate: true } }";
    expect(configOf(mtls).problems).toEqual([]);
  });
});
