/**
 * What the bench's processes share: the clock, the topics and devices of a run, and the IPC
 * conventions of a child process (every child is forked with an IPC channel by scripts/bench/main.ts).
 */
import { performance } from "node:perf_hooks";
import type { Catalog } from "../../src/model/catalog-types.js";

/**
 * Wall-clock epoch milliseconds with sub-millisecond resolution. Every process of the bench runs on
 * the same machine, so publisher and client read the same clock; each process derives it from its
 * own timeOrigin, which can differ from Date.now() by a fraction of a millisecond.
 */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

export const DEVICE_TYPE = "3WA";
export const DEVICE_SOURCE = "ETU";

export function deviceName(index: number): string {
  return `Bench ${String(index + 1).padStart(3, "0")}`;
}

/** The declared devices and published topics of a run. */
export interface Layout {
  /** Names of the declared devices (type 3WA, source ETU). */
  devices: string[];
  /** The distinct topics the publisher cycles through: Double points, device by device. */
  topics: string[];
  /** Every mirrored point of the declared devices (catalog points × devices): the client monitors these. */
  pointTopics: string[];
}

/**
 * `topicCount` topics on Double points of as few devices as hold them (411 Double points a device),
 * e.g. `11/3/3WA/Bench 001/ETU`. Every catalog point of those devices exists from start-up.
 */
export function benchLayout(catalog: Catalog, topicCount: number): Layout {
  const doubles = catalog.points.filter((p) => p.dataType === "Double");
  const deviceCount = Math.max(1, Math.ceil(topicCount / doubles.length));
  const devices = Array.from({ length: deviceCount }, (_, i) => deviceName(i));
  const topicOf = (topicId: string, device: string) => `${topicId}/${DEVICE_TYPE}/${device}/${DEVICE_SOURCE}`;
  const topics: string[] = [];
  for (const d of devices)
    for (const p of doubles) if (topics.length < topicCount) topics.push(topicOf(p.topicId, d));
  const pointTopics = devices.flatMap((d) => catalog.points.map((p) => topicOf(p.topicId, d)));
  return { devices, topics, pointTopics };
}

/** Gateway configuration (as YAML text; JSON is YAML) for a bench gateway. */
export function gatewayYaml(opts: {
  brokerUrl: string;
  clientId: string;
  pkiFolder: string;
  devices: string[];
  /** The history store's folder, or null: history off. */
  historyFolder: string | null;
}): string {
  return JSON.stringify({
    log: { level: "warn", format: "json" },
    mqtt: { url: opts.brokerUrl, clientId: opts.clientId, reconnectPeriod: 200, reconnectPeriodMax: 1000 },
    // The client is anonymous and unsecured: the bench measures throughput, not cryptography.
    opcua: {
      port: 0,
      hostname: "127.0.0.1",
      pkiFolder: opts.pkiFolder,
      securityPolicies: ["None"],
      allowAnonymous: true,
    },
    // Health and metrics are not measured; a fixed port would clash with a running gateway.
    http: { enabled: false },
    mapping: { maxDevices: Math.max(1000, opts.devices.length + 10) },
    devices: opts.devices.map((name) => ({ type: DEVICE_TYPE, name, source: DEVICE_SOURCE })),
    history: opts.historyFolder ? { folder: opts.historyFolder } : { enabled: false },
  });
}

// ---- the child side of the IPC channel -------------------------------------------------------

/** A message between the bench and a child: `type` says what it is, `id` pairs a reply with its request. */
export interface Msg {
  type: string;
  id?: number;
  [key: string]: unknown;
}

export function send(msg: Msg): void {
  process.send?.(msg);
}

/**
 * Installs the conventions every child follows: it dies with its parent (the IPC channel closing),
 * reports a crash as a `fatal` message, and answers each request through `handle`.
 */
export function childMain(name: string, handle: (msg: Msg) => Promise<Msg | undefined> | Msg | undefined) {
  if (!process.send) {
    process.stderr.write(`${name}: run me through scripts/bench/main.ts (needs an IPC channel)\n`);
    process.exit(2);
  }
  process.on("disconnect", () => process.exit(0));
  // Ctrl-C reaches the whole process group: the parent decides, children just leave.
  process.on("SIGINT", () => process.exit(130));
  const fatal = (err: unknown) => {
    send({ type: "fatal", message: `${name}: ${(err as Error)?.stack ?? String(err)}` });
    setTimeout(() => process.exit(1), 100).unref();
  };
  process.on("uncaughtException", fatal);
  process.on("unhandledRejection", fatal);
  process.on("message", (raw) => {
    const msg = raw as Msg;
    Promise.resolve()
      .then(() => handle(msg))
      .then((reply) => {
        if (reply) send({ ...reply, id: msg.id });
      })
      .catch(fatal);
  });
}

/** Parses `--key value` pairs passed by the bench to a child. */
export function childArgs(): Record<string, string> {
  const out: Record<string, string> = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length - 1; i += 2) out[argv[i]!.replace(/^--/, "")] = argv[i + 1]!;
  return out;
}

/** Event-loop utilisation and CPU time of this process since the previous call. */
export function loadMeter(): () => { elu: number; cpuMs: number } {
  let lastElu = performance.eventLoopUtilization();
  let lastCpu = process.cpuUsage();
  return () => {
    const elu = performance.eventLoopUtilization(lastElu);
    lastElu = performance.eventLoopUtilization();
    const cpu = process.cpuUsage(lastCpu);
    lastCpu = process.cpuUsage();
    return { elu: elu.utilization, cpuMs: (cpu.user + cpu.system) / 1000 };
  };
}

// ---- small helpers of the bench's own process ------------------------------------------------

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `n` to `digits` decimals, or null when it is not a finite number (JSON has no NaN). */
export const round = (n: number, digits = 0) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null);
