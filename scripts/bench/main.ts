/**
 * `npm run bench`: the gateway's throughput, latency, memory and start-up, measured end to end.
 *
 *   broker (mosquitto, else aedes)  ← publisher (MQTT.js, rate steps)
 *        ↓                                     ↓ the same rates, one after the other
 *   gateway (mqtt.url → broker)       bare MQTT.js subscriber (the yardstick)
 *        ↓ OPC UA
 *   node-opcua client, subscribed to every mirrored point
 *
 * Each part runs in a process of its own; this process only orchestrates and reads counters.
 * Prints a table and one JSON object (also written to bench-results.json).
 *
 *   npm run bench                 the full run (~2–3 min)
 *   npm run bench -- --quick      a smoke run (~30 s)
 *   npm run bench -- --help       every option
 */

import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadCatalog } from "../../src/model/catalog-loader.js";
import { PROJECT_ROOT } from "../../src/shared/paths.js";
import { RUNTIME_FLAGS } from "../../src/shared/runtime-flags.js";
import {
  CRITERION,
  describeCriterion,
  judgeDelivery,
  judgeStep,
  loadOver,
  rateOver,
  type StepVerdict,
} from "./analysis.js";
import { type BenchBroker, startBroker } from "./broker.js";
import { Child, cpuMsOf, installCleanup, machineCpuMs, stopAllChildren } from "./children.js";
import { benchLayout, epochMs, type Msg } from "./common.js";

const USAGE = `Usage: npm run bench -- [options]

  --quick                   smoke run (~30 s): 2,000 topics, rates 5000,20000, 3 s steps, 10k-point memory
  --rates <list>            comma-separated msg/s steps (default 10000,20000,35000,50000,65000,80000,100000,120000)
  --step-seconds <s>        duration of each rate step (default 8)
  --warmup-seconds <s>      start of each step left out of the judgement (default 1.5)
  --topics <n>              distinct topics published, on Double points of declared devices (default 10000)
  --payload plain|json      a plain number, or {"value": t, "ts": ms} (default plain)
  --qos 0|1                 publisher QoS (default 0)
  --publisher mqttjs|raw    client.publish() per message, or pre-encoded packets on the MQTT.js socket (default mqttjs)
  --publishing-interval <ms> OPC UA subscription publishing interval (default 100)
  --queue-size <n>          queueSize of the client's monitored items, samplingInterval 0 (default 1: the
                            newest value each publishing interval; n: every change, up to n an interval)
  --latency-rate <msg/s>    the step whose latency is held against the target (default 20000)
  --broker auto|mosquitto|aedes  (default auto: mosquitto when installed)
  --memory-devices <n>      declared devices for the memory and start-up run (default 227: 100,334 points)
  --skip-bare | --skip-gateway | --skip-memory
  --profile                 write a CPU profile of the gateway process (node --cpu-prof) to .tmp/bench-profile/
  --out <file>              results file (default bench-results.json)
  --timeout <s>             abort the whole run after s seconds (default 1200)
  --help                    this text
`;

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    rates: { type: "string" },
    "step-seconds": { type: "string" },
    "warmup-seconds": { type: "string" },
    topics: { type: "string" },
    payload: { type: "string", default: "plain" },
    qos: { type: "string", default: "0" },
    publisher: { type: "string", default: "mqttjs" },
    "publishing-interval": { type: "string", default: "100" },
    "queue-size": { type: "string", default: "1" },
    "latency-rate": { type: "string", default: "20000" },
    broker: { type: "string", default: "auto" },
    "memory-devices": { type: "string" },
    "skip-bare": { type: "boolean", default: false },
    "skip-gateway": { type: "boolean", default: false },
    "skip-memory": { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    out: { type: "string", default: "bench-results.json" },
    timeout: { type: "string", default: "1200" },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
if (flags.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

function positive(name: string, raw: string | undefined, fallback: number): number {
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`--${name} must be a positive number, not ${raw}\n${USAGE}`);
    process.exit(2);
  }
  return n;
}
function oneOf<T extends string>(name: string, raw: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw)) {
    process.stderr.write(`--${name} must be one of ${allowed.join(", ")}, not ${raw}\n`);
    process.exit(2);
  }
  return raw as T;
}

const quick = flags.quick;
const latencyRate = positive("latency-rate", flags["latency-rate"], 20_000);
const opts = {
  quick,
  rates: [
    ...new Set([
      ...(flags.rates ?? (quick ? "5000,20000" : "10000,20000,35000,50000,65000,80000,100000,120000"))
        .split(",")
        .map((r) => positive("rates", r.trim(), 0)),
      latencyRate,
    ]),
  ].sort((a, b) => a - b),
  stepSeconds: positive("step-seconds", flags["step-seconds"], quick ? 3 : 8),
  warmupSeconds: positive("warmup-seconds", flags["warmup-seconds"], quick ? 1 : 1.5),
  topics: Math.round(positive("topics", flags.topics, quick ? 2000 : 10_000)),
  payload: oneOf("payload", flags.payload, ["plain", "json"] as const),
  qos: Number(oneOf("qos", flags.qos, ["0", "1"] as const)),
  publisher: oneOf("publisher", flags.publisher, ["mqttjs", "raw"] as const),
  publishingInterval: positive("publishing-interval", flags["publishing-interval"], 100),
  queueSize: Math.round(positive("queue-size", flags["queue-size"], 1)),
  latencyRate,
  broker: oneOf("broker", flags.broker, ["auto", "mosquitto", "aedes"] as const),
  memoryDevices: Math.round(positive("memory-devices", flags["memory-devices"], quick ? 23 : 227)),
  skipBare: flags["skip-bare"],
  skipGateway: flags["skip-gateway"],
  skipMemory: flags["skip-memory"],
  profile: flags.profile,
  out: flags.out,
  timeoutS: positive("timeout", flags.timeout, 1200),
};
if (opts.warmupSeconds >= opts.stepSeconds) {
  process.stderr.write("--warmup-seconds must be shorter than --step-seconds\n");
  process.exit(2);
}

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, digits = 0) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null);

installCleanup();
const benchStart = Date.now();
const overall = setTimeout(() => {
  log(`TIMEOUT: the run exceeded --timeout ${opts.timeoutS} s; stopping every child process`);
  process.exit(3);
}, opts.timeoutS * 1000);

// ---- the machine -------------------------------------------------------------------------------

function versionOf(pkg: string): string {
  try {
    const file = join(PROJECT_ROOT, "node_modules", pkg, "package.json");
    return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

/** The code measured: the commit, and whether src/ had uncommitted changes. */
function codeVersion(): { commit: string; srcModified: boolean } {
  try {
    // --no-optional-locks: reading the status must not rewrite the index under someone else's feet.
    const git = (...a: string[]) =>
      execFileSync("git", ["--no-optional-locks", ...a], { cwd: PROJECT_ROOT, encoding: "utf8" }).trim();
    return {
      commit: git("rev-parse", "HEAD"),
      srcModified: git("status", "--porcelain", "--", "src").length > 0,
    };
  } catch {
    return { commit: "unknown", srcModified: false };
  }
}

const machine = {
  cpuModel: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  totalMemoryGiB: round(totalmem() / 2 ** 30, 1),
  kernel: release(),
  node: process.version,
  /** Given to the gateway and to the bare subscriber (src/shared/runtime-flags.ts). */
  receiverNodeFlags: [...RUNTIME_FLAGS],
  packages: { "node-opcua": versionOf("node-opcua"), mqtt: versionOf("mqtt"), aedes: versionOf("aedes") },
  broker: { kind: "", version: "" },
  code: codeVersion(),
};

const catalog = loadCatalog();
const layout = benchLayout(catalog, opts.topics);
const pki = join(tmpdir(), "smartgear-bench-pki");
mkdirSync(pki, { recursive: true });

// ---- one rate step -----------------------------------------------------------------------------

interface StepResult extends StepVerdict {
  rate: number;
  sent: number;
  achievedRate: number;
  drainMs: number;
  /** Ticks at which the publisher held back because its socket had too much unsent. */
  publisherHeldBackTicks: number;
  rejected: number | null;
  cores: Record<string, number | null>;
  elu: Record<string, number | null>;
  notificationsPerS: number | null;
  /** Publish responses the client received per second (the publishing interval would allow 1000/interval). */
  publishResponsesPerS: number | null;
  /** CPU time the receiver spent per message received (all its threads' work, µs). */
  receiverCpuUsPerMsg: number | null;
  latencyMs: LatencyStats | null;
}

interface LatencyStats {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

let publisherTotal = 0;

/** Waits until `receiver` has taken everything published so far (bounded). */
async function settle(receiver: Child, boundMs: number): Promise<void> {
  const until = Date.now() + boundMs;
  let last = receiver.samples.at(-1);
  while (Date.now() < until) {
    await sleep(250);
    const now = receiver.samples.at(-1);
    // Two successive samples with the same count: nothing is in flight any more.
    if (now && last && now !== last && now.count === last.count) return;
    if (now !== last) last = now;
  }
  log(`${receiver.name} still receiving after ${boundMs} ms; the next step starts anyway`);
}

async function runStep(
  rate: number,
  publisher: Child,
  receiver: Child,
  broker: BenchBroker,
  client: Child | null,
): Promise<StepResult> {
  const durationMs = opts.stepSeconds * 1000;
  const warmupMs = opts.warmupSeconds * 1000;
  const sentBefore = publisherTotal;
  // settle() waited until the receiver's count stood still: this is everything it got before the step.
  const before = receiver.samples.at(-1);
  const recvAtStart = before?.count ?? 0;
  let brokerCpuFrom: number | null = null;
  let machineFrom: ReturnType<typeof machineCpuMs> = null;
  let latencyStarted: Promise<Msg> | null = null;
  const warm = setTimeout(() => {
    brokerCpuFrom = cpuMsOf(broker.pid);
    machineFrom = machineCpuMs();
    latencyStarted = client?.request({ type: "latency-start" }, 10_000) ?? null;
  }, warmupMs);
  const done = await publisher.request({ type: "run", rate, durationMs }, durationMs + 30_000);
  clearTimeout(warm);
  const brokerCpuTo = cpuMsOf(broker.pid);
  const machineTo = machineCpuMs();
  const startT = Number(done.startT);
  const endT = Number(done.endT);
  const sent = Number(done.sent);
  publisherTotal += sent;
  let latency: Msg | null = null;
  if (client && latencyStarted) {
    await latencyStarted;
    latency = await client.request({ type: "latency-stop" }, 30_000);
  }

  // Drain: wait (bounded) for the receiver to count every message of the step.
  const drainUntil = endT + CRITERION.drainS * 1000;
  let drainMs = CRITERION.drainS * 1000;
  while (epochMs() < drainUntil) {
    const last = receiver.samples.at(-1);
    if (last && last.t > endT && last.count - recvAtStart >= sent) {
      drainMs = Math.max(0, last.t - endT);
      break;
    }
    await sleep(50);
  }
  const receivedAfterDrain = receiver.samples.at(-1)?.count ?? 0;
  const verdict = judgeStep({
    rate,
    startT,
    endT,
    sent,
    achievedRate: Number(done.achievedRate),
    sentBefore,
    receivedBefore: recvAtStart,
    publisherSamples: publisher.samples,
    receiverSamples: receiver.samples,
    receivedAfterDrain,
    warmupS: opts.warmupSeconds,
  });
  const from = startT + warmupMs;
  const lastRecv = receiver.samples.at(-1);
  const rejected =
    lastRecv && typeof lastRecv.rejected === "number" && before
      ? Number(lastRecv.rejected) - Number(before.rejected ?? 0)
      : null;
  if (rejected) verdict.reasons.push(`${rejected} messages rejected by the gateway`);
  const notificationsPerS = client ? rateOver(client.samples, from, endT) : null;
  if (client)
    verdict.reasons.push(
      ...judgeDelivery({
        rate,
        notificationsPerS: notificationsPerS ?? 0,
        latencyP99Ms: latency && typeof latency.p99 === "number" ? latency.p99 : null,
        topics: layout.topics.length,
        publishingIntervalMs: opts.publishingInterval,
        queueSize: opts.queueSize,
      }),
    );
  verdict.sustained = verdict.reasons.length === 0;
  const pubLoad = loadOver(publisher.samples, from, endT);
  const recvLoad = loadOver(receiver.samples, from, endT);
  const clientLoad = client ? loadOver(client.samples, from, endT) : null;
  const brokerCores =
    brokerCpuFrom !== null && brokerCpuTo !== null ? (brokerCpuTo - brokerCpuFrom) / (endT - from) : null;
  // Everything the machine did meanwhile, and what of it none of the bench's processes did
  // (other programs, and kernel network work not charged to a process).
  const m0 = machineFrom as ReturnType<typeof machineCpuMs>;
  const machineCores =
    m0 && machineTo ? ((machineTo.busy - m0.busy) / (machineTo.total - m0.total)) * machine.cores : null;
  const benchCores =
    (pubLoad.cores || 0) + (recvLoad.cores || 0) + (clientLoad?.cores || 0) + (brokerCores ?? 0);
  const otherCores = machineCores === null ? null : machineCores - benchCores;
  const lat = (k: string) =>
    latency && typeof latency[k] === "number" ? round(latency[k] as number, 1) : null;
  return {
    rate,
    sent,
    achievedRate: Math.round(Number(done.achievedRate)),
    drainMs: Math.round(drainMs),
    publisherHeldBackTicks: Number(done.heldBackTicks ?? 0),
    rejected,
    ...verdict,
    receivedRate: Math.round(verdict.receivedRate),
    backlogMax: Math.round(verdict.backlogMax),
    backlogEnd: Math.round(verdict.backlogEnd),
    backlogSlopePerS: Math.round(verdict.backlogSlopePerS),
    windowS: round(verdict.windowS, 1) ?? 0,
    cores: {
      machine: machineCores === null ? null : round(machineCores, 2),
      other: otherCores === null ? null : round(otherCores, 2),
      publisher: round(pubLoad.cores, 2),
      broker: brokerCores === null ? null : round(brokerCores, 2),
      receiver: round(recvLoad.cores, 2),
      ...(clientLoad ? { client: round(clientLoad.cores, 2) } : {}),
    },
    elu: {
      receiver: round(recvLoad.elu, 2),
      ...(clientLoad ? { client: round(clientLoad.elu, 2) } : {}),
    },
    notificationsPerS: notificationsPerS === null ? null : Math.round(notificationsPerS),
    publishResponsesPerS: client
      ? round(
          rateOver(
            client.samples.map((x) => ({ ...x, count: Number(x.publishResponses) })),
            from,
            endT,
          ),
          1,
        )
      : null,
    receiverCpuUsPerMsg: round((recvLoad.cores * 1e6) / verdict.receivedRate, 1),
    latencyMs: latency
      ? {
          count: Number(latency.count),
          p50: lat("p50"),
          p95: lat("p95"),
          p99: lat("p99"),
          max: lat("max"),
          mean: lat("mean"),
        }
      : null,
  };
}

interface Ladder {
  steps: StepResult[];
  /** The highest sustained step, or 0 if none. */
  maxSustainedRate: number;
  /** Why the ladder ended. */
  endedBy: string;
  /**
   * True when the receiver never failed (the ladder ran out of rates, or the publisher could not go
   * faster): its true maximum is then at least maxSustainedRate.
   */
  lowerBound: boolean;
}

async function ladder(
  label: string,
  publisher: Child,
  receiver: Child,
  broker: BenchBroker,
  client: Child | null,
  alsoRun: number | null,
): Promise<Ladder> {
  const steps: StepResult[] = [];
  let endedBy = "every step sustained";
  let lowerBound = true;
  for (const rate of opts.rates) {
    await settle(receiver, 15_000);
    log(`${label}: ${rate} msg/s for ${opts.stepSeconds} s`);
    const step = await runStep(rate, publisher, receiver, broker, client);
    steps.push(step);
    log(
      `${label}: ${rate} msg/s → sent ${step.achievedRate}/s, received ${step.receivedRate}/s, ` +
        `backlog max ${step.backlogMax} slope ${step.backlogSlopePerS}/s: ` +
        `${step.sustained ? "sustained" : `NOT sustained (${step.reasons.join("; ")})`}` +
        (step.latencyMs ? `, latency p50 ${step.latencyMs.p50} p99 ${step.latencyMs.p99} ms` : ""),
    );
    if (!step.sustained) {
      const publisherOnly = step.reasons.every((r) => r.startsWith("publisher reached only"));
      lowerBound = publisherOnly;
      endedBy = publisherOnly
        ? `publisher could not reach ${rate} msg/s`
        : `${rate} msg/s not sustained: ${step.reasons.join("; ")}`;
      break;
    }
  }
  const maxSustainedRate = Math.max(0, ...steps.filter((s) => s.sustained).map((s) => s.rate));
  // The latency target is set at one rate: measure it there even when the ladder stopped below.
  if (alsoRun !== null && !steps.some((s) => s.rate === alsoRun)) {
    await settle(receiver, 30_000);
    log(`${label}: ${alsoRun} msg/s (latency step, above the sustained rate)`);
    steps.push(await runStep(alsoRun, publisher, receiver, broker, client));
  }
  return { steps, maxSustainedRate, endedBy, lowerBound };
}

// ---- the run -----------------------------------------------------------------------------------

const notes: string[] = [];
const results: Record<string, unknown> = {};
let broker: BenchBroker | null = null;

/** Busy cores of the machine over `ms`, before the bench starts anything. */
async function busyCores(ms: number): Promise<number | null> {
  const a = machineCpuMs();
  await sleep(ms);
  const b = machineCpuMs();
  return a && b ? ((b.busy - a.busy) / (b.total - a.total)) * machine.cores : null;
}

try {
  const idle = await busyCores(1000);
  (machine as Record<string, unknown>).busyCoresBeforeStart = idle === null ? null : round(idle, 2);
  if (idle !== null && idle > 0.2)
    notes.push(
      `WARNING: before the bench started, other work kept ${idle.toFixed(2)} cores busy: the machine is not idle.`,
    );
  broker = await startBroker(opts.broker);
  machine.broker = {
    kind: broker.kind,
    version: broker.kind === "aedes" ? versionOf("aedes") : broker.version,
  };
  log(`broker: ${broker.kind} ${machine.broker.version} on ${broker.url} (pid ${broker.pid})`);
  notes.push(
    `${machine.cores} cores shared by ${opts.skipGateway ? 3 : 4} busy processes: broker (${broker.kind}), publisher, ` +
      "the receiver under test (gateway or bare subscriber), and, in gateway steps, the OPC UA client. " +
      "The cpu columns show the share of a core each process used (1.00 = one core, user + system time, " +
      "kernel network work outside the processes not included); the OS schedules them where it can.",
  );

  const publisher = new Child("publisher", "publisher", {
    url: broker.url,
    topics: opts.topics,
    qos: opts.qos,
    payload: opts.payload,
    mode: opts.publisher,
  });
  await publisher.ready(30_000);

  // 1. The yardstick: a bare MQTT.js subscriber on the same broker, the same rates.
  if (!opts.skipBare) {
    // Both receivers run with the gateway's runtime flags: the yardstick gets what the product has.
    const bare = new Child(
      "bare",
      "bare-subscriber",
      { url: broker.url, protocol: broker.kind === "aedes" ? 4 : 5 },
      [...RUNTIME_FLAGS],
    );
    await bare.ready(30_000);
    results.bare = await ladder("bare MQTT.js", publisher, bare, broker, null, null);
    await bare.stop();
  }

  // 2. The gateway, with an OPC UA client monitoring every mirrored point.
  if (!opts.skipGateway) {
    const gatewayArgs = {
      url: broker.url,
      devices: layout.devices.length,
      pki,
      "client-id": `bench-gateway-${process.pid}`,
    };
    const profileDir = join(PROJECT_ROOT, ".tmp", "bench-profile");
    if (opts.profile) mkdirSync(profileDir, { recursive: true });
    const gateway = new Child("gateway", "gateway", gatewayArgs, [
      ...RUNTIME_FLAGS,
      ...(opts.profile ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : []),
    ]);
    const gwReady = await gateway.ready(180_000);
    log(
      `gateway: ${gwReady.points} points of ${gwReady.devices} devices, started in ${Math.round(Number(gwReady.startMs))} ms`,
    );
    const client = new Child("client", "opcua-client", {
      endpoint: String(gwReady.endpointUrl),
      topics: opts.topics,
      pki,
      "publishing-interval": opts.publishingInterval,
      "queue-size": opts.queueSize,
    });
    const clientReady = await client.ready(300_000);
    log(
      `client: monitoring ${clientReady.monitored} points (subscribed in ${Math.round(Number(clientReady.subscribeMs))} ms)`,
    );
    const gw = await ladder("gateway", publisher, gateway, broker, client, opts.latencyRate);
    results.gateway = {
      topics: layout.topics.length,
      devices: layout.devices.length,
      points: gwReady.points,
      startMs: Math.round(Number(gwReady.startMs)),
      buildPointsMs: Math.round(Number(gwReady.buildPointsMs)),
      monitoredItems: clientReady.monitored,
      subscribeMs: Math.round(Number(clientReady.subscribeMs)),
      publishingIntervalMs: clientReady.publishingInterval,
      queueSize: clientReady.queueSize,
      ...gw,
    };
    await client.stop();
    await gateway.stop(20_000);
    if (opts.profile) notes.push(`CPU profile of the gateway process written to ${profileDir}`);
  }
  await publisher.stop();

  // 3. Memory and start-up: a gateway without devices, then one with the declared points.
  if (!opts.skipMemory) {
    const memory: Record<string, unknown>[] = [];
    for (const devices of [0, opts.memoryDevices]) {
      log(`memory: gateway with ${devices} declared devices`);
      const child = new Child(
        `gateway-mem-${devices}`,
        "gateway",
        {
          url: broker.url,
          devices,
          pki,
          "client-id": `bench-mem-${process.pid}-${devices}`,
          "measure-memory": 1,
        },
        [...RUNTIME_FLAGS, "--expose-gc"],
      );
      const ready = await child.ready(600_000);
      memory.push(ready);
      await child.stop(30_000);
    }
    const [base, full] = memory as {
      points: number;
      startMs: number;
      buildPointsMs: number;
      memory: MemReport;
    }[];
    const points = full!.points;
    const m = full!.memory;
    results.memory = {
      devices: opts.memoryDevices,
      catalogPointsPerDevice: catalog.points.length,
      points,
      startMs: Math.round(full!.startMs),
      buildPointsMs: Math.round(full!.buildPointsMs),
      startMsWithoutDevices: Math.round(base!.startMs),
      heapPerPointBytes: Math.round((m.afterPoints.heapUsed - m.beforePoints.heapUsed) / points),
      rssPerPointBytes: Math.round((m.afterPoints.rss - m.beforePoints.rss) / points),
      heapPerPointAllInBytes: Math.round((m.afterStart.heapUsed - m.beforeStart.heapUsed) / points),
      rssPerPointAllInBytes: Math.round((m.afterStart.rss - m.beforeStart.rss) / points),
      heapAfterStartMiB: round(m.afterStart.heapUsed / 2 ** 20, 1),
      rssAfterStartMiB: round(m.afterStart.rss / 2 ** 20, 1),
      heapWithoutDevicesMiB: round(base!.memory.afterStart.heapUsed / 2 ** 20, 1),
      rssWithoutDevicesMiB: round(base!.memory.afterStart.rss / 2 ** 20, 1),
    };
  }
} catch (err) {
  notes.push(`RUN ABORTED: ${(err as Error).message}`);
  log(`ERROR ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  await stopAllChildren();
  await broker?.stop().catch(() => {});
}

interface Mem {
  heapUsed: number;
  rss: number;
}
interface MemReport {
  beforeStart: Mem;
  beforePoints: Mem;
  afterPoints: Mem;
  afterStart: Mem;
}

// ---- targets -----------------------------------------------------------------------------------

type Verdict = "MET" | "MISSED" | "NOT MEASURED";
interface Target {
  target: string;
  measured: string;
  verdict: Verdict;
}
const targets: Target[] = [];
const bare = results.bare as Ladder | undefined;
const gateway = results.gateway as (Ladder & { publishingIntervalMs: number }) | undefined;
const memory = results.memory as
  | { points: number; heapPerPointBytes: number; startMs: number; buildPointsMs: number }
  | undefined;

/** A ladder that never failed says "at least"; a ratio of bounds is decided only where the bound decides. */
const atLeast = (l: Ladder) => (l.lowerBound ? "at least " : "");
if (gateway) {
  const r = gateway.maxSustainedRate;
  targets.push({
    target: "ingest >= 50,000 msg/s end to end",
    measured: `${atLeast(gateway)}${r} msg/s sustained`,
    verdict: r >= 50_000 ? "MET" : gateway.lowerBound ? "NOT MEASURED" : "MISSED",
  });
} else targets.push({ target: "ingest >= 50,000 msg/s end to end", measured: "-", verdict: "NOT MEASURED" });
let ratio: number | null = null;
if (gateway && bare && bare.maxSustainedRate > 0) {
  ratio = gateway.maxSustainedRate / bare.maxSustainedRate;
  const met = ratio >= 0.8;
  // bare only a lower bound: the true ratio is at most this; gateway only a lower bound: at least this.
  const decided =
    !bare.lowerBound && !gateway.lowerBound
      ? true
      : bare.lowerBound && gateway.lowerBound
        ? false
        : bare.lowerBound
          ? !met
          : met;
  targets.push({
    target: ">= 80% of the bare MQTT.js subscriber's rate",
    measured:
      `${(ratio * 100).toFixed(0)}% (${atLeast(gateway)}${gateway.maxSustainedRate} / ` +
      `${atLeast(bare)}${bare.maxSustainedRate} msg/s)`,
    verdict: decided ? (met ? "MET" : "MISSED") : "NOT MEASURED",
  });
} else
  targets.push({
    target: ">= 80% of the bare MQTT.js subscriber's rate",
    measured: "-",
    verdict: "NOT MEASURED",
  });
const latencyStep = gateway?.steps.find((s) => s.rate === opts.latencyRate);
if (latencyStep?.latencyMs && latencyStep.latencyMs.p99 !== null) {
  const limit = (gateway?.publishingIntervalMs ?? opts.publishingInterval) + 50;
  const p99 = latencyStep.latencyMs.p99;
  targets.push({
    target: `latency p99 <= publishing interval + 50 ms (${limit} ms) at ${opts.latencyRate} msg/s`,
    measured: `p99 ${p99} ms (p50 ${latencyStep.latencyMs.p50} ms)${latencyStep.sustained ? "" : ", rate not sustained"}`,
    verdict: p99 <= limit ? (opts.latencyRate === 20_000 ? "MET" : "NOT MEASURED") : "MISSED",
  });
} else
  targets.push({
    target: "latency p99 <= publishing interval + 50 ms at 20,000 msg/s",
    measured: "-",
    verdict: "NOT MEASURED",
  });
if (memory) {
  // Measured below 100,000 points the figures are indicative only: the verdict waits for a full run.
  const at100k = memory.points >= 100_000;
  const where = (over: boolean) =>
    at100k ? "" : ` at ${memory.points} points, not 100,000 (${over ? "over" : "within"} the target there)`;
  const heapOver = memory.heapPerPointBytes > 3072;
  targets.push({
    target: "<= 3 KB heap per mirrored point at 100,000 points",
    measured: `${(memory.heapPerPointBytes / 1024).toFixed(2)} KB${where(heapOver)}`,
    verdict: at100k ? (heapOver ? "MISSED" : "MET") : "NOT MEASURED",
  });
  const slow = memory.startMs >= 5000;
  targets.push({
    target: "start-up with 100,000 declared points < 5 s",
    measured:
      `${(memory.startMs / 1000).toFixed(2)} s (building the points ${(memory.buildPointsMs / 1000).toFixed(2)} s)` +
      where(slow),
    verdict: at100k ? (slow ? "MISSED" : "MET") : "NOT MEASURED",
  });
} else {
  targets.push({
    target: "<= 3 KB heap per mirrored point at 100,000 points",
    measured: "-",
    verdict: "NOT MEASURED",
  });
  targets.push({
    target: "start-up with 100,000 declared points < 5 s",
    measured: "-",
    verdict: "NOT MEASURED",
  });
}
const contaminated = [bare, gateway]
  .flatMap((l) => l?.steps ?? [])
  .filter((st) => (st.cores.other ?? 0) > 0.3);
if (contaminated.length > 0)
  notes.push(
    `WARNING: in ${contaminated.length} step(s) (${contaminated.map((st) => st.rate).join(", ")} msg/s) ` +
      "other work (other programs, or kernel network work not charged to a process) took more than 0.3 cores " +
      `(up to ${Math.max(...contaminated.map((st) => st.cores.other ?? 0))}): see "cpu other"; ` +
      "re-run on an idle machine before trusting those steps.",
  );

// A smoke run decides nothing: its figures are shown, its verdicts held back.
if (opts.quick)
  for (const t of targets)
    if (t.verdict !== "NOT MEASURED") {
      t.measured += ` (quick run; a full run would likely say ${t.verdict})`;
      t.verdict = "NOT MEASURED";
    }
if (opts.latencyRate !== 20_000 || opts.quick)
  notes.push(
    "quick or non-default run: targets measured under other conditions than theirs are NOT MEASURED",
  );
notes.push(
  "Latency = arrival of the OPC UA notification at the client minus the publish time carried in the payload, " +
    "both read from this machine's clock (each process's performance.timeOrigin + now(), sub-ms). " +
    "It includes the wait for the next publishing cycle (0..interval).",
);
notes.push(
  "Heap and RSS per point: growth across the building of the declared points (PointMirror.start), " +
    "after forced GC; 'all-in' divides the whole start-up's growth (nodeset, server, points) by the points.",
);

const output = {
  bench: "smartgear-gateway npm run bench",
  date: new Date().toISOString(),
  durationS: Math.round((Date.now() - benchStart) / 1000),
  machine,
  options: { ...opts, out: undefined },
  layout: {
    topics: layout.topics.length,
    devices: layout.devices.length,
    monitoredPoints: layout.pointTopics.length,
    topicExample: layout.topics[0],
  },
  criterion: describeCriterion(opts.warmupSeconds),
  bare: bare ?? null,
  gateway: gateway ?? null,
  ratio: ratio === null ? null : round(ratio, 3),
  memory: memory ?? null,
  targets,
  notes,
};

// ---- output ------------------------------------------------------------------------------------

function table(headers: string[], rows: (string | number | null)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null ? "-" : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  // Figures right-aligned, words left-aligned.
  const numeric = headers.map((_, i) =>
    cells.slice(1).every((r) => /^[-+\d.,]+[k%]?( [A-Za-z]+)?$/.test(r[i] ?? "")),
  );
  const line = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join(
    "\n",
  );
}
const k = (n: number | null) => (n === null ? null : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(n));

const out: string[] = [];
out.push(
  `Sm@rtGear gateway bench — ${machine.cpuModel}, ${machine.cores} cores, ${machine.totalMemoryGiB} GiB, ` +
    `Node ${machine.node}, node-opcua ${machine.packages["node-opcua"]}, mqtt ${machine.packages.mqtt}, ` +
    `broker ${machine.broker.kind} ${machine.broker.version}, receivers run with node ${machine.receiverNodeFlags.join(" ")}`,
);
out.push(
  `${layout.topics.length} topics on ${layout.devices.length} declared devices (${layout.pointTopics.length} mirrored points), ` +
    `payload ${opts.payload}, QoS ${opts.qos}, publisher ${opts.publisher}, ${opts.stepSeconds} s steps` +
    (opts.quick ? " (QUICK)" : ""),
);
for (const [name, l] of [
  ["bare MQTT.js subscriber", bare],
  ["gateway → OPC UA client", gateway],
] as const) {
  if (!l) continue;
  out.push("", `${name}: max sustained ${atLeast(l)}${l.maxSustainedRate} msg/s — ${l.endedBy}`);
  const withClient = l === gateway;
  out.push(
    table(
      [
        "target/s",
        "sent/s",
        "recv/s",
        "backlog max",
        "slope/s",
        "lost",
        "ok",
        "cpu other",
        "pub",
        "broker",
        withClient ? "gateway" : "bare",
        ...(withClient
          ? ["client", "gw elu", "gw µs/msg", "notif/s", "resp/s", "lat p50", "p95", "p99 ms"]
          : ["elu", "µs/msg"]),
      ],
      l.steps.map((s) => [
        k(s.rate),
        k(s.achievedRate),
        k(s.receivedRate),
        s.backlogMax,
        s.backlogSlopePerS,
        s.lost,
        s.sustained ? "yes" : "NO",
        s.cores.other ?? null,
        s.cores.publisher ?? null,
        s.cores.broker ?? null,
        s.cores.receiver ?? null,
        ...(withClient
          ? [
              s.cores.client ?? null,
              s.elu.receiver ?? null,
              s.receiverCpuUsPerMsg,
              k(s.notificationsPerS),
              s.publishResponsesPerS,
              s.latencyMs?.p50 ?? null,
              s.latencyMs?.p95 ?? null,
              s.latencyMs?.p99 ?? null,
            ]
          : [s.elu.receiver ?? null, s.receiverCpuUsPerMsg]),
      ]),
    ),
  );
  for (const s of l.steps) if (!s.sustained) out.push(`  ${k(s.rate)}: ${s.reasons.join("; ")}`);
}
if (gateway)
  out.push(
    "",
    `gateway start-up with ${layout.devices.length} devices: ${(results.gateway as { startMs: number }).startMs} ms; ` +
      `client subscribed ${(results.gateway as { monitoredItems: number }).monitoredItems} items in ` +
      `${(results.gateway as { subscribeMs: number }).subscribeMs} ms; publishing interval ${gateway.publishingIntervalMs} ms, ` +
      `queueSize ${(results.gateway as { queueSize: number }).queueSize}`,
  );
if (ratio !== null) out.push(`gateway / bare MQTT.js: ${(ratio * 100).toFixed(0)}%`);
if (memory) {
  const m = results.memory as Record<string, number>;
  out.push(
    "",
    `memory and start-up: ${m.devices} devices × ${m.catalogPointsPerDevice} catalog points = ${m.points} points`,
    table(
      ["", "per point", "all-in per point", "after start", "without devices"],
      [
        [
          "heap",
          `${m.heapPerPointBytes} B`,
          `${m.heapPerPointAllInBytes} B`,
          `${m.heapAfterStartMiB} MiB`,
          `${m.heapWithoutDevicesMiB} MiB`,
        ],
        [
          "RSS",
          `${m.rssPerPointBytes} B`,
          `${m.rssPerPointAllInBytes} B`,
          `${m.rssAfterStartMiB} MiB`,
          `${m.rssWithoutDevicesMiB} MiB`,
        ],
      ],
    ),
    `Gateway.start(): ${m.startMs} ms (building the points ${m.buildPointsMs} ms; without devices ${m.startMsWithoutDevices} ms)`,
  );
}
out.push(
  "",
  table(
    ["target", "measured", "verdict"],
    targets.map((t) => [t.target, t.measured, t.verdict]),
  ),
);
out.push("", `Criterion: ${output.criterion}`);
for (const n of notes) out.push(`Note: ${n}`);

process.stdout.write(`${out.join("\n")}\n\n${JSON.stringify(output, null, 2)}\n`);
writeFileSync(resolve(PROJECT_ROOT, opts.out), `${JSON.stringify(output, null, 2)}\n`);
log(`results written to ${opts.out}`);
clearTimeout(overall);
process.exit();
