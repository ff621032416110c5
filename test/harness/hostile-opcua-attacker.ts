import type net from "node:net";
import { chunkHeader, connectRaw, encodeHello, readReply } from "./uacp.js";

/**
 * The attackers of hostile-opcua.test.ts, in a process of their own so that the legitimate
 * client's round trip measures the gateway, not the attackers' event loop:
 *   node --import tsx test/harness/hostile-opcua-attacker.ts <endpointUrl> <connections> <seconds> <attacks,...> [<OPN hex>]
 * Prints the number of connections made when the time is up.
 */

const U32 = 2 ** 32 - 1;

export type Attack = "bigChunk" | "endlessChunks" | "endlessOnNoneChannel";

/** One hostile connection, reconnecting until `deadline`; resolves with the connections it made. */
async function attack(endpointUrl: string, kind: Attack, opn: Buffer, deadline: number): Promise<number> {
  let connections = 0;
  while (Date.now() < deadline) {
    let s: net.Socket;
    try {
      s = await connectRaw(endpointUrl);
    } catch {
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    connections++;
    const closed = new Promise<void>((r) => s.once("close", () => r()));
    const write = async (b: Buffer) => {
      if (!s.write(b)) await Promise.race([new Promise((r) => s.once("drain", r)), closed]);
    };
    try {
      s.write(
        encodeHello({
          endpointUrl,
          receiveBufferSize: U32,
          sendBufferSize: U32,
          maxMessageSize: U32,
          maxChunkCount: U32,
        }),
      );
      if ((await readReply(s)).type !== "ACK") continue;
      let channelId = 0;
      if (kind === "endlessOnNoneChannel") {
        s.write(opn);
        const head = await new Promise<Buffer>((r) => s.once("data", r));
        channelId = head.readUInt32LE(8);
      }
      if (kind === "bigChunk") {
        await write(Buffer.concat([chunkHeader("OPN", "F", 2 ** 30), Buffer.alloc(65536 - 8)]));
        const filler = Buffer.alloc(65536);
        while (!s.destroyed && Date.now() < deadline) await write(filler);
      } else {
        // 800 intermediate chunks of 79 bytes a write: channel id, token 1, sequence header, junk.
        let seq = 100;
        while (!s.destroyed && Date.now() < deadline) {
          const batch = Buffer.alloc(79 * 800);
          for (let i = 0; i < 800; i++) {
            const o = i * 79;
            chunkHeader("MSG", "C", 79).copy(batch, o);
            batch.writeUInt32LE(channelId, o + 8);
            batch.writeUInt32LE(1, o + 12);
            batch.writeUInt32LE(seq++, o + 16);
            batch.writeUInt32LE(7, o + 20);
          }
          await write(batch);
        }
      }
    } catch {
      // The gateway closed it: reconnect.
    } finally {
      s.destroy();
    }
  }
  return connections;
}

const [endpointUrl = "", connections = "50", seconds = "20", attacks = "bigChunk", opnHex = ""] =
  process.argv.slice(2);
const kinds = attacks.split(",") as Attack[];
const deadline = Date.now() + Number(seconds) * 1000;
const opn = Buffer.from(opnHex, "hex");
const made = await Promise.all(
  Array.from({ length: Number(connections) }, (_, i) =>
    attack(endpointUrl, kinds[i % kinds.length]!, opn, deadline),
  ),
);
console.log(made.reduce((a, b) => a + b, 0));
