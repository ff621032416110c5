/**
 * The gateway under test, in a process of its own: `new Gateway(config, catalog)` with mqtt.url on
 * the bench broker, OPC UA on a free loopback port, log level warn, and the run's devices declared
 * so that all their points exist from start-up. It streams its ingest counters and load to the
 * bench. With `--measure-memory 1` (run under --expose-gc) it reports heap and RSS around the
 * building of the declared points.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Gateway } from "../../src/app/gateway.js";
import { PointMirror } from "../../src/bridge/point-mirror.js";
import { buildConfig } from "../../src/config/config-loader.js";
import { loadCatalog } from "../../src/model/catalog-loader.js";
import { configureLogging } from "../../src/shared/logger.js";
import { PROJECT_ROOT } from "../../src/shared/paths.js";
import { parseYamlText } from "../../src/shared/yaml-source.js";
import { childArgs, childMain, deviceName, epochMs, gatewayYaml, loadMeter, send } from "./common.js";

const SAMPLE_MS = 200;
const args = childArgs();
const measureMemory = args["measure-memory"] === "1";
const gc = (globalThis as { gc?: () => void }).gc;
if (measureMemory && !gc) throw new Error("--measure-memory needs node --expose-gc");

/**
 * The gateway has no key for the OPC UA bind address and node-opcua then listens on every
 * interface; the bench keeps to loopback by giving the endpoint a host before it listens.
 */
const require = createRequire(import.meta.url);
const endPoint = require("node-opcua-server/dist/server_end_point.js") as {
  OPCUAServerEndPoint: { prototype: { host?: string; listen(cb: unknown): void } };
};
const originalListen = endPoint.OPCUAServerEndPoint.prototype.listen;
endPoint.OPCUAServerEndPoint.prototype.listen = function (this: { host?: string }, cb: unknown) {
  this.host ??= "127.0.0.1";
  return originalListen.call(this, cb);
};

interface Mem {
  heapUsed: number;
  rss: number;
}
const memNow = (): Mem => {
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss };
};
const collect = () => {
  const t = performance.now();
  gc!();
  gc!();
  return performance.now() - t;
};

/** Times PointMirror.start() (the building of the declared devices' points) without touching src/. */
let buildPointsMs = 0;
let gcMs = 0;
let beforePoints: Mem | null = null;
let afterPoints: Mem | null = null;
const originalStart = PointMirror.prototype.start;
PointMirror.prototype.start = function (this: PointMirror) {
  if (measureMemory) {
    gcMs += collect();
    beforePoints = memNow();
  }
  const t = performance.now();
  originalStart.call(this);
  buildPointsMs = performance.now() - t;
  if (measureMemory) {
    gcMs += collect();
    afterPoints = memNow();
  }
};

// A store of its own for each run, removed when the process ends.
const historyFolder = args.history === "off" ? null : mkdtempSync(join(tmpdir(), "smartgear-bench-history-"));
if (historyFolder) process.on("exit", () => rmSync(historyFolder, { recursive: true, force: true }));

const devices = Array.from({ length: Number(args.devices) }, (_, i) => deviceName(i));
const yaml = gatewayYaml({
  brokerUrl: args.url!,
  clientId: args["client-id"]!,
  pkiFolder: args.pki!,
  devices,
  historyFolder,
});
const { config, problems } = buildConfig(parseYamlText(yaml, join(PROJECT_ROOT, "config", "bench.yaml")), {});
if (!config) throw new Error(`bench gateway config invalid: ${JSON.stringify(problems)}`);
configureLogging({ level: config.log.level, format: config.log.format });
const catalog = loadCatalog(config.catalog);

if (measureMemory) collect();
const beforeStart = memNow();
const gateway = new Gateway(config, catalog);
const t0 = performance.now();
await gateway.start();
// The forced collections inside start() are the bench's, not the gateway's.
const startMs = performance.now() - t0 - gcMs;
let afterStart: Mem | null = null;
if (measureMemory) {
  collect();
  afterStart = memNow();
}

const meter = loadMeter();
const sampler = setInterval(() => {
  const c = gateway.counters;
  send({
    type: "sample",
    t: epochMs(),
    count: c.received,
    decoded: c.decoded,
    rejected: c.rejected,
    heapUsed: process.memoryUsage().heapUsed,
    ...meter(),
  });
}, SAMPLE_MS);
sampler.unref();

childMain("gateway", async (msg) => {
  if (msg.type !== "stop") return undefined;
  clearInterval(sampler);
  await gateway.stop();
  process.exit(0);
});
send({
  type: "ready",
  endpointUrl: gateway.endpointUrl.replace(/\/\/[^:/]+:/, "//127.0.0.1:"),
  startMs,
  buildPointsMs,
  points: gateway.ingest?.pointCount ?? 0,
  devices: gateway.ingest?.deviceCount ?? 0,
  memory: measureMemory ? { beforeStart, beforePoints, afterPoints, afterStart } : null,
});
