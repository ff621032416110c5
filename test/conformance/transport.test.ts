import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { preSessionClosures } from "../../src/opcua/patches/pre-session-guard.js";
import { anonymousOpcua, startGateway, TEST_PKI } from "../harness/gateway.js";
import { connectClient, connectTrusted } from "../harness/opcua-client.js";
import { startTcpProxy } from "../harness/tcp-proxy.js";
import { chunkHeader, connectRaw, encodeHello, type Hello, helloReply, readReply } from "../harness/uacp.js";

/**
 * The OPC UA Connection Protocol from the wire (Part 6 7.1.2), as the Compliance Test Tool's
 * "Transport" and "Secure Channel" categories check it and as clients of other stacks (Python,
 * C) meet it: issue 17. A node-opcua client would hide these faults, sharing the server's own
 * assumptions about buffer sizes.
 */

const MAX = 2 ** 31 - 1;
/** A plain Hello: 64 KiB buffers, no message or chunk limit. */
const PLAIN = { receiveBufferSize: 65536, sendBufferSize: 65536, maxMessageSize: 0, maxChunkCount: 0 };
const MiB = 2 ** 20;

let gw: Awaited<ReturnType<typeof startGateway>>;
beforeAll(async () => {
  // Anonymous, None and Basic256Sha256 (the helper's default).
  gw = await startGateway();
});
afterAll(() => gw?.stop());

/** The Hellos of issue 17: the Python stack's, the C stack's, and the extremes Part 6 allows. */
const hellos: [string, Omit<Hello, "endpointUrl">][] = [
  [
    "Python (2^31-1 buffers, no message or chunk limit)",
    { receiveBufferSize: MAX, sendBufferSize: MAX, maxMessageSize: 0, maxChunkCount: 0 },
  ],
  [
    "C (64 KiB buffers)",
    { receiveBufferSize: 65535, sendBufferSize: 65535, maxMessageSize: 0, maxChunkCount: 0 },
  ],
  [
    "the smallest buffers (8,192)",
    { receiveBufferSize: 8192, sendBufferSize: 8192, maxMessageSize: 0, maxChunkCount: 0 },
  ],
  [
    "a 1 MiB message limit",
    { receiveBufferSize: MAX, sendBufferSize: MAX, maxMessageSize: MiB, maxChunkCount: 0 },
  ],
  [
    "unequal buffers (receives 8,192, sends 2^31-1)",
    { receiveBufferSize: 8192, sendBufferSize: MAX, maxMessageSize: 0, maxChunkCount: 0 },
  ],
  [
    "unequal buffers (receives 2^31-1, sends 8,192)",
    { receiveBufferSize: MAX, sendBufferSize: 8192, maxMessageSize: 0, maxChunkCount: 0 },
  ],
  [
    "0xFFFFFFFF everywhere",
    {
      receiveBufferSize: 2 ** 32 - 1,
      sendBufferSize: 2 ** 32 - 1,
      maxMessageSize: 2 ** 32 - 1,
      maxChunkCount: 2 ** 32 - 1,
    },
  ],
];

describe("the Acknowledge to a Hello (Part 6 7.1.2.4, Table 70)", () => {
  it.each(hellos)("stays within Part 6 and what the client announced: %s", async (_name, hello) => {
    const ack = await helloReply(gw.endpointUrl, hello);
    if (ack.type !== "ACK") throw new Error(`expected ACK, got ${JSON.stringify(ack)}`);
    // "shall not be larger than the SendBufferSize requested in the Hello" and vice versa.
    expect(ack.receiveBufferSize).toBeLessThanOrEqual(hello.sendBufferSize);
    expect(ack.sendBufferSize).toBeLessThanOrEqual(hello.receiveBufferSize);
    expect(ack.receiveBufferSize).toBeGreaterThanOrEqual(8192);
    expect(ack.sendBufferSize).toBeGreaterThanOrEqual(8192);
    // The gateway does bound what it will receive (0 would be "no limit"), within opcua.limits.maxMessageSize.
    expect(ack.maxMessageSize).toBeGreaterThan(0);
    expect(ack.maxMessageSize).toBeLessThanOrEqual(gw.config.opcua.limits.maxMessageSize);
    // node-opcua answers the response limit with the same figure: never more than the client's own.
    if (hello.maxMessageSize) expect(ack.maxMessageSize).toBeLessThanOrEqual(hello.maxMessageSize);
    expect(ack.maxChunkCount).toBeGreaterThan(0);
    // Enough chunks for a message of maxMessageSize, and no more (a peer must not make the gateway keep 2^32 chunks).
    const chunk = Math.min(ack.receiveBufferSize, ack.sendBufferSize);
    expect(ack.maxChunkCount).toBe(Math.ceil(ack.maxMessageSize / chunk));
    expect(ack.protocolVersion).toBe(0);
  });

  it.each(hellos.slice(0, 6))(
    "lets a client that announced it open a session and read a value: %s",
    async (_name, hello) => {
      // node-opcua's client replaces 0 by its defaults in its Hello: a proxy puts the announced values on the wire.
      const proxy = await startTcpProxy(Number(new URL(gw.endpointUrl).port));
      try {
        proxy.onUpstream((data) =>
          data.toString("ascii", 0, 4) === "HELF"
            ? encodeHello({ ...hello, endpointUrl: gw.endpointUrl })
            : data,
        );
        const client = await connectClient(proxy.url("opc.tcp"));
        try {
          const dv = await client.read("i=2259"); // Server_ServerStatus_State: Running
          expect(dv.statusCode.name).toBe("Good");
          expect(dv.value.value).toBe(0);
        } finally {
          await client.stop();
        }
      } finally {
        await proxy.stop();
      }
    },
  );
});

it("lets the Python stack's Hello open a SignAndEncrypt Basic256Sha256 session and read a value", async () => {
  const proxy = await startTcpProxy(Number(new URL(gw.endpointUrl).port));
  const dir = mkdtempSync(join(tmpdir(), "smartgear-conformance-"));
  try {
    const [, python] = hellos[0]!;
    proxy.onUpstream((data) =>
      data.toString("ascii", 0, 4) === "HELF"
        ? encodeHello({ ...python, endpointUrl: gw.endpointUrl })
        : data,
    );
    const client = await connectTrusted(proxy.url("opc.tcp"), TEST_PKI, {
      pkiFolder: join(dir, "client-pki"),
    });
    try {
      expect((await client.read("i=2259")).value.value).toBe(0);
    } finally {
      await client.stop();
    }
  } finally {
    await proxy.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("what the server refuses with an Error message (Part 6 7.1.2.5 and 7.1.5)", () => {
  it("refuses buffers below 8,192 bytes (Table 69: at least 8,192 without an ECC policy)", async () => {
    const reply = await helloReply(gw.endpointUrl, { ...PLAIN, receiveBufferSize: 8191 });
    expect(reply).toMatchObject({ type: "ERR", status: "BadConnectionRejected" });
  });

  it("accepts a later protocol version and answers the one it uses, 0 (Table 69)", async () => {
    const reply = await helloReply(gw.endpointUrl, { ...PLAIN, protocolVersion: 7 });
    expect(reply).toMatchObject({ type: "ACK", protocolVersion: 0 });
  });

  it("refuses a Hello whose EndpointUrl exceeds 4,096 bytes with BadTcpEndpointUrlInvalid, and takes one of 4,096", async () => {
    const url = (bytes: number) => {
      const base = `${gw.endpointUrl}/`;
      return base + "x".repeat(bytes - base.length);
    };
    expect(await helloReply(gw.endpointUrl, { ...PLAIN, endpointUrl: url(4097) })).toMatchObject({
      type: "ERR",
      status: "BadTcpEndpointUrlInvalid",
    });
    expect(await helloReply(gw.endpointUrl, { ...PLAIN, endpointUrl: url(4096) })).toMatchObject({
      type: "ACK",
    });
  });

  it("answers a first message that is not a Hello with BadCommunicationError and closes", async () => {
    const s = await connectRaw(gw.endpointUrl);
    try {
      s.write(Buffer.concat([chunkHeader("OPN", "F", 64), Buffer.alloc(56)]));
      expect(await readReply(s)).toMatchObject({ type: "ERR", status: "BadCommunicationError" });
      expect(await readReply(s)).toEqual({ type: "closed" });
    } finally {
      s.destroy();
    }
  });

  it("refuses a chunk larger than the ReceiveBufferSize it acknowledged before buffering it (BadTcpMessageTooLarge)", async () => {
    const s = await connectRaw(gw.endpointUrl);
    try {
      s.write(
        encodeHello({
          endpointUrl: gw.endpointUrl,
          receiveBufferSize: MAX,
          sendBufferSize: MAX,
          maxMessageSize: 0,
          maxChunkCount: 0,
        }),
      );
      const ack = await readReply(s);
      if (ack.type !== "ACK") throw new Error(JSON.stringify(ack));
      const header = Buffer.alloc(12);
      header.write("OPNF", 0, "ascii");
      header.writeUInt32LE(ack.receiveBufferSize + 1, 4);
      s.write(header);
      expect(await readReply(s)).toMatchObject({ type: "ERR", status: "BadTcpMessageTooLarge" });
    } finally {
      s.destroy();
    }
  });
});

describe("a connection without an activated session (opcua.limits.preSessionTimeout, maxPreSessionBytes)", () => {
  let guarded: Awaited<ReturnType<typeof startGateway>>;
  beforeAll(async () => {
    guarded = await startGateway(
      anonymousOpcua("limits: { preSessionTimeout: 1, maxPreSessionBytes: 16384 }"),
    );
  });
  afterAll(() => guarded?.stop());

  it("is closed with an Error message BadTimeout after preSessionTimeout (node-opcua alone: 3 minutes)", async () => {
    const before = preSessionClosures.timeout;
    const s = await connectRaw(guarded.endpointUrl);
    try {
      const t0 = performance.now();
      s.write(encodeHello({ endpointUrl: guarded.endpointUrl, ...PLAIN }));
      expect(await readReply(s)).toMatchObject({ type: "ACK" });
      expect(await readReply(s)).toMatchObject({ type: "ERR", status: "BadTimeout" });
      expect(await readReply(s)).toEqual({ type: "closed" });
      const ms = performance.now() - t0;
      expect(ms).toBeGreaterThan(900);
      expect(ms).toBeLessThan(5000);
      expect(preSessionClosures.timeout).toBe(before + 1);
    } finally {
      s.destroy();
    }
  });

  it("is closed with BadTcpNotEnoughResources once it sent more than maxPreSessionBytes, even inside one chunk", async () => {
    const before = preSessionClosures.bytes;
    const s = await connectRaw(guarded.endpointUrl);
    try {
      s.write(encodeHello({ endpointUrl: guarded.endpointUrl, ...PLAIN }));
      expect(await readReply(s)).toMatchObject({ type: "ACK" });
      // An OpenSecureChannel chunk within the acknowledged 64 KiB, sent 4 KiB at a time: node-opcua
      // would keep buffering it until complete.
      s.write(chunkHeader("OPN", "F", 60_000));
      const reply = readReply(s);
      for (let sent = 0; sent < 40_000 && !s.destroyed; sent += 4096) {
        s.write(Buffer.alloc(4096));
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(await reply).toMatchObject({ type: "ERR", status: "BadTcpNotEnoughResources" });
      expect(preSessionClosures.bytes).toBe(before + 1);
    } finally {
      s.destroy();
    }
  });

  it("leaves a client alone once its session is activated: past the timeout and beyond the bytes", async () => {
    const client = await connectClient(guarded.endpointUrl);
    try {
      await new Promise((r) => setTimeout(r, 2500));
      // 200 reads: well over 16 KiB of requests after activation.
      for (let i = 0; i < 200; i++) expect((await client.read("i=2259")).value.value).toBe(0);
    } finally {
      await client.stop();
    }
  });
});
