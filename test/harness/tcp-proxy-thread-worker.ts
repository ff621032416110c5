/** The thread of startTcpProxyThread: a TcpProxy that obeys its parent's messages. */
import { parentPort, workerData } from "node:worker_threads";
import { startTcpProxy } from "./tcp-proxy.js";

const proxy = await startTcpProxy(workerData as number);
const port = parentPort!;
port.on("message", async (m: { id: number; op: "stall" | "resume" | "cut" | "state" | "stop" }) => {
  if (m.op === "stop") await proxy.stop();
  else if (m.op !== "state") proxy[m.op]();
  port.postMessage({ id: m.id, links: proxy.links, accepted: proxy.accepted });
});
port.postMessage({ id: 0, port: proxy.port });
