import net from "node:net";
import {
  BinaryStream,
  CreateSessionRequest,
  CreateSessionResponse,
  decodeExpandedNodeId,
  type ExpandedNodeId,
  encodeExpandedNodeId,
  GetEndpointsRequest,
  GetEndpointsResponse,
  MessageSecurityMode,
  OpenSecureChannelRequest,
  OpenSecureChannelResponse,
  SecurityPolicy,
  StatusCodes,
} from "node-opcua";

/**
 * OPC UA Connection Protocol from the wire (Part 6 7.1.2): what a client of another stack sends
 * and reads, without node-opcua's client in between to hide a fault of the server.
 */

export interface Hello {
  protocolVersion?: number;
  receiveBufferSize: number;
  sendBufferSize: number;
  maxMessageSize: number;
  maxChunkCount: number;
  endpointUrl: string;
}

/** A decoded ACK (Table 70) or ERR (Table 73); `status` is the ERR's StatusCode name. */
export type Reply =
  | {
      type: "ACK";
      protocolVersion: number;
      receiveBufferSize: number;
      sendBufferSize: number;
      maxMessageSize: number;
      maxChunkCount: number;
    }
  | { type: "ERR"; status: string; reason: string }
  | { type: "closed" };

/** A HEL message (Part 6 7.1.2.3, Table 69). */
export function encodeHello(h: Hello): Buffer {
  const url = Buffer.from(h.endpointUrl);
  const b = Buffer.alloc(32 + url.length);
  b.write("HELF", 0, "ascii");
  b.writeUInt32LE(b.length, 4);
  b.writeUInt32LE(h.protocolVersion ?? 0, 8);
  b.writeUInt32LE(h.receiveBufferSize, 12);
  b.writeUInt32LE(h.sendBufferSize, 16);
  b.writeUInt32LE(h.maxMessageSize, 20);
  b.writeUInt32LE(h.maxChunkCount, 24);
  b.writeInt32LE(url.length, 28);
  url.copy(b, 32);
  return b;
}

/** A chunk header (Part 6 7.1.2.2): type, chunk type (F, C or A) and a length that may lie. */
export function chunkHeader(type: "OPN" | "MSG" | "CLO", chunkType: "F" | "C" | "A", length: number): Buffer {
  const b = Buffer.alloc(8);
  b.write(type + chunkType, 0, "ascii");
  b.writeUInt32LE(length, 4);
  return b;
}

/** Connects to the endpoint's port on loopback. */
export async function connectRaw(endpointUrl: string): Promise<net.Socket> {
  const s = net.connect(Number(new URL(endpointUrl).port), "127.0.0.1");
  s.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    s.once("connect", resolve);
    s.once("error", reject);
  });
  return s;
}

/** Reads the next UACP message from `s`, or "closed" when the server closes first; at most `ms`. */
export function readReply(s: net.Socket, ms = 10_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const done = (r: Reply | Error) => {
      clearTimeout(timer);
      s.off("data", onData);
      s.off("close", onClose);
      r instanceof Error ? reject(r) : resolve(r);
    };
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 8 || buf.length < buf.readUInt32LE(4)) return;
      const type = buf.toString("ascii", 0, 3);
      if (type === "ACK")
        done({
          type,
          protocolVersion: buf.readUInt32LE(8),
          receiveBufferSize: buf.readUInt32LE(12),
          sendBufferSize: buf.readUInt32LE(16),
          maxMessageSize: buf.readUInt32LE(20),
          maxChunkCount: buf.readUInt32LE(24),
        });
      else if (type === "ERR") {
        const code = buf.readUInt32LE(8);
        const len = buf.readInt32LE(12);
        const status =
          Object.entries(StatusCodes).find(([, c]) => c.value === code)?.[0] ?? `0x${code.toString(16)}`;
        done({ type, status, reason: len > 0 ? buf.toString("utf8", 16, 16 + len) : "" });
      } else done(new Error(`unexpected ${type} message`));
    };
    const onClose = () => done({ type: "closed" });
    const timer = setTimeout(() => done(new Error(`no UACP reply within ${ms} ms`)), ms);
    s.on("data", onData);
    s.once("close", onClose);
  });
}

/** Sends `hello` on a new connection and returns the server's reply, closing the socket after. */
export async function helloReply(
  endpointUrl: string,
  hello: Omit<Hello, "endpointUrl"> & { endpointUrl?: string },
): Promise<Reply> {
  const s = await connectRaw(endpointUrl);
  try {
    s.write(encodeHello({ endpointUrl, ...hello }));
    return await readReply(s);
  } finally {
    s.destroy();
  }
}

type Encodable = { encode(stream: BinaryStream): void; schema: { encodingDefaultBinary?: ExpandedNodeId } };

/** A service body (Part 6 5.2.9): the encoding's ExpandedNodeId, then the structure. */
function serviceBody(request: Encodable): Buffer {
  const s = new BinaryStream(64 * 1024);
  encodeExpandedNodeId(request.schema.encodingDefaultBinary!, s);
  request.encode(s);
  return s.buffer.subarray(0, s.length);
}

/** Reads one whole message (a single final chunk) and returns it. */
function readMessage(s: net.Socket, ms = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 8 || buf.length < buf.readUInt32LE(4)) return;
      clearTimeout(timer);
      s.off("data", onData);
      resolve(buf);
    };
    const timer = setTimeout(() => reject(new Error(`no message within ${ms} ms`)), ms);
    s.on("data", onData);
  });
}

function decodeBody<T>(stream: BinaryStream, make: () => T & { decode(stream: BinaryStream): void }): T {
  decodeExpandedNodeId(stream);
  const response = make();
  response.decode(stream);
  return response;
}

/**
 * A client of another stack looking for the server's endpoints on a SecurityPolicy None channel:
 * Hello with `endpointUrl`, OpenSecureChannel (Part 6 6.7.2: asymmetric header, no certificate),
 * then GetEndpoints (Part 4 5.4.4) and CreateSession (Part 4 5.6.2), each naming `endpointUrl`.
 * Returns the EndpointUrls of both answers; the session is left to time out.
 */
export async function discoverEndpoints(
  port: number,
  endpointUrl: string,
): Promise<{ getEndpoints: string[]; createSession: string[] }> {
  const s = net.connect(port, "127.0.0.1");
  s.on("error", () => {});
  try {
    await new Promise<void>((resolve, reject) => {
      s.once("connect", resolve);
      s.once("error", reject);
    });
    s.write(
      encodeHello({
        receiveBufferSize: 65536,
        sendBufferSize: 65536,
        maxMessageSize: 0,
        maxChunkCount: 0,
        endpointUrl,
      }),
    );
    const ack = await readReply(s);
    if (ack.type !== "ACK") throw new Error(`Hello answered ${JSON.stringify(ack)}`);

    const opnHeader = new BinaryStream(1024);
    opnHeader.writeString(SecurityPolicy.None);
    opnHeader.writeByteStream(null as unknown as Buffer);
    opnHeader.writeByteStream(null as unknown as Buffer);
    opnHeader.writeUInt32(1); // SequenceNumber
    opnHeader.writeUInt32(1); // RequestId
    const open = serviceBody(
      new OpenSecureChannelRequest({
        clientProtocolVersion: 0,
        requestType: 0, // Issue
        securityMode: MessageSecurityMode.None,
        clientNonce: Buffer.alloc(0),
        requestedLifetime: 60_000,
      }),
    );
    const opnBody = Buffer.concat([opnHeader.buffer.subarray(0, opnHeader.length), open]);
    const opn = Buffer.concat([chunkHeader("OPN", "F", 12 + opnBody.length), Buffer.alloc(4), opnBody]);
    s.write(opn);
    const opnReply = new BinaryStream(await readMessage(s));
    opnReply.length = 12;
    opnReply.readString();
    opnReply.readByteStream();
    opnReply.readByteStream();
    opnReply.length += 8;
    const channel = decodeBody(opnReply, () => new OpenSecureChannelResponse()).securityToken;

    let sequence = 1;
    const call = async <T>(
      request: Encodable,
      make: () => T & { decode(stream: BinaryStream): void },
    ): Promise<T> => {
      sequence++;
      const head = Buffer.alloc(16);
      head.writeUInt32LE(channel.channelId, 0);
      head.writeUInt32LE(channel.tokenId, 4);
      head.writeUInt32LE(sequence, 8);
      head.writeUInt32LE(sequence, 12);
      const body = serviceBody(request);
      s.write(Buffer.concat([chunkHeader("MSG", "F", 24 + body.length), head, body]));
      const reply = new BinaryStream(await readMessage(s));
      reply.length = 24;
      return decodeBody(reply, make);
    };
    const got = await call(new GetEndpointsRequest({ endpointUrl }), () => new GetEndpointsResponse());
    const session = await call(
      new CreateSessionRequest({
        clientDescription: { applicationUri: "urn:raw-client", applicationName: { text: "raw" } },
        endpointUrl,
        sessionName: "raw",
        clientNonce: Buffer.alloc(32),
        requestedSessionTimeout: 10_000,
      }),
      () => new CreateSessionResponse(),
    );
    const urls = (list: { endpointUrl: string | null }[] | null) =>
      (list ?? []).map((e) => e.endpointUrl ?? "");
    return { getEndpoints: urls(got.endpoints), createSession: urls(session.serverEndpoints) };
  } finally {
    s.destroy();
  }
}
