/**
 * The fallback broker when mosquitto is not installed: aedes in a process of its own, on a free
 * loopback port, reporting the port once it listens.
 */
import net from "node:net";
import { Aedes } from "aedes";
import { childMain, send } from "./common.js";

const broker = await Aedes.createBroker();
const server = net.createServer(broker.handle);
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));

childMain("aedes", async (msg) => {
  if (msg.type !== "stop") return undefined;
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
  process.exit(0);
});
send({ type: "ready", port: (server.address() as net.AddressInfo).port });
