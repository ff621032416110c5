/**
 * Start-up with devices restored from the history store (README, History: continuity; issue 13's
 * target: 100,000 points in < 5 s). Fills a store in a temporary folder as a gateway would have
 * (every catalog point of --devices devices with a value), then starts a gateway on it, without
 * declared devices, and reports its start-up (wall time, and CPU time of both threads and of the main
 * thread alone), the restore's share and the load average.
 * `npx tsx scripts/bench/history-restore.ts [--devices 227] [--runs 3] [--open-alarms] [--down 1] [--cold]`
 * (227 devices: 100,334 points). With --cold, each run is a fresh `node dist/src/cli.js run` (as
 * `npm start` and the container start it; `npm run build` first), timed from its spawn to its
 * "gateway started" line: module loading and a cold JIT included, as an operator meets it; --node,
 * --root and --compile-cache run it as the container does (Node 22, NODE_COMPILE_CACHE). With --open-alarms, every alarm point of every device was active and
 * unacknowledged when the store was left: its condition is built at start too (README, Alarms: after
 * a restart). --down: minutes since the stored values (more than 10: their packing is due at start).
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DataType, NodeId, NodeIdType, Variant } from "node-opcua";
import { Gateway } from "../../src/app/gateway.js";
import { checkSetupSource } from "../../src/app/setup.js";
import type { HistoryRecord } from "../../src/history/chunk-codec.js";
import { HistoryStore } from "../../src/history/history-store.js";
import type { DataTypeName } from "../../src/model/catalog-types.js";
import { packFields } from "../../src/opcua/event-fields.js";
import { getLogger, silenceLogging } from "../../src/shared/logger.js";
import { PROJECT_ROOT } from "../../src/shared/paths.js";
import { parseYamlText } from "../../src/shared/yaml-source.js";
import { cpuMsOf } from "./children.js";
import { DEVICE_SOURCE, DEVICE_TYPE, deviceName } from "./common.js";

const { values: args } = parseArgs({
  options: {
    devices: { type: "string", default: "227" },
    runs: { type: "string", default: "3" },
    "open-alarms": { type: "boolean", default: false },
    down: { type: "string", default: "1" },
    cold: { type: "boolean", default: false },
    // --cold: node's flags, as package.json's start script and the Dockerfile give them.
    "node-flags": { type: "string", default: "--max-semi-space-size=128" },
    // --cold: another checkout (built) whose restored start alternates with this one's on the same
    // store, run by run; a summary of both follows (min and median: this machine's neighbours vary).
    compare: { type: "string" },
    // --cold --compare: the other checkout's node flags (default: --node-flags); with --compare "."
    // this checkout against itself with other flags.
    "compare-flags": { type: "string" },
    // --cold --compare: the Node.js binary of the other checkout's starts (default: --node).
    "compare-node": { type: "string" },
    // --cold: the Node.js binary that runs the gateway (default: this one), e.g. Node 22 as the
    // container has it; the checkout it runs (--root) needs its native modules built for it.
    node: { type: "string", default: process.execPath },
    // --cold: the built checkout whose gateway starts (default: this one).
    root: { type: "string" },
    // --cold (Node >= 22.1): NODE_COMPILE_CACHE for this checkout's starts (with --compare, not for
    // the other's), warmed by one start first, as the container image's build warms it.
    "compile-cache": { type: "string" },
    // --cold: profiles of each fresh process into this folder (node --cpu-prof).
    "cpu-prof": { type: "string" },
    // --cold: "parts", each part's start-up as the gateway logs it (at debug level); "threads", the
    // CPU time of each of the process's threads by the time it started.
    show: { type: "string", default: "" },
  },
});
const DEVICES = Number(args.devices);
const ROOT = args.root ? resolve(args.root) : PROJECT_ROOT;

/** A stored value each point's type takes back (a coercion failure would restore nothing). */
function storedValue(dataType: DataTypeName, i: number): HistoryRecord["value"] {
  if (dataType === "Boolean") return i % 2 === 0;
  if (dataType === "String") return `text ${i}`;
  if (dataType === "DateTime") return new Date(1_700_000_000_000 + i);
  return i % 100;
}

/** The last event of an alarm left active and unacknowledged, as the journal keeps it. */
function openAlarm(d: number, browseName: string, t: number) {
  const condition = new NodeId(
    NodeIdType.STRING,
    `Devices/${DEVICE_TYPE}/${deviceName(d)}/${DEVICE_SOURCE}/Conditions/${browseName}`,
    2,
  ).toString();
  const fields = new Map([
    ["activeState.id", new Variant({ dataType: DataType.Boolean, value: true })],
    ["ackedState.id", new Variant({ dataType: DataType.Boolean, value: false })],
    ["confirmedState.id", new Variant({ dataType: DataType.Boolean, value: false })],
    ["time", new Variant({ dataType: DataType.DateTime, value: new Date(t) })],
    ["severity", new Variant({ dataType: DataType.UInt16, value: 800 })],
    ["message", new Variant({ dataType: DataType.LocalizedText, value: { text: `${browseName} active` } })],
  ]);
  return {
    time: t,
    receiveTime: t,
    source: "",
    type: "ns=0;i=10637",
    condition,
    severity: 800,
    fields: packFields(fields),
    open: true,
  };
}

/**
 * CPU seconds this process's main thread has used (0 where /proc is missing): process.cpuUsage()
 * adds the history thread's, and Node 20 has no threadCpuUsage().
 */
function mainThreadCpu(): number {
  return (cpuMsOf(process.pid, process.pid) ?? 0) / 1000;
}

/** How a fresh gateway process is started: which Node.js, which built checkout, which flags. */
interface Launch {
  node: string;
  root: string;
  flags: string;
  /** NODE_COMPILE_CACHE (Node >= 22.1), or none. */
  compileCache?: string | undefined;
}

/** This checkout's launch, as the options give it. */
const LAUNCH: Launch = {
  node: args.node,
  root: ROOT,
  flags: args["node-flags"],
  compileCache: args["compile-cache"],
};

/**
 * One start of the compiled gateway in a fresh process on `configText`, as `npm start` runs it:
 * milliseconds from its spawn to its "gateway started" line, its own start-up figure (startupMs, the
 * time in Gateway.start), its points and devices, and its CPU time by then (all threads). Stopped
 * with SIGTERM afterwards, as `docker stop` would.
 */
async function coldStart(folder: string, name: string, configText: string, launch = LAUNCH) {
  const { node, root, flags, compileCache } = launch;
  const config = join(folder, `${name}.yaml`);
  const parsed = JSON.parse(configText);
  writeFileSync(
    config,
    JSON.stringify({ ...parsed, log: { level: args.show === "parts" ? "debug" : "info", format: "json" } }),
  );
  const profile = args["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${args["cpu-prof"]}`] : [];
  const began = performance.now();
  const child = spawn(
    node,
    [
      ...flags.split(" ").filter(Boolean),
      ...profile,
      join(root, "dist/src/cli.js"),
      "run",
      "--config",
      config,
    ],
    {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, ...(compileCache ? { NODE_COMPILE_CACHE: compileCache } : {}) },
    },
  );
  const exited = new Promise((resolve) => child.once("exit", resolve));
  // Restored devices left to make once started (madeWhenNeeded), and when the last one was made.
  let toMake = 0;
  let madeAt = 0;
  const started = await new Promise<{ startupMs: number; points: number; devices: number }>(
    (resolve, reject) => {
      let rest = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        const lines = (rest + chunk.toString()).split("\n");
        rest = lines.pop()!;
        for (const line of lines) {
          if (line.includes('"devices restored from history"')) toMake = JSON.parse(line).madeWhenNeeded;
          if (line.includes('"restored devices made"')) madeAt = performance.now();
          if (line.includes('"gateway started"')) resolve(JSON.parse(line));
          if (line.includes('"part started"')) {
            const { part, ms } = JSON.parse(line);
            console.log(`  ${part}: ${ms} ms`);
          }
        }
      });
      child.once("exit", (code) => reject(new Error(`the gateway exited (${code}) before it started`)));
    },
  );
  const ms = Math.round(performance.now() - began);
  const cpuMs = cpuMsOf(child.pid!) ?? 0;
  const mainMs = cpuMsOf(child.pid!, child.pid!) ?? 0;
  if (args.show === "threads") console.log(`  ${threadsOf(child.pid!)}`);
  // The devices restored for a first use that did not come are made in the background after the
  // start: its end too, as a client browsing everything at once would meet it.
  const deadline = performance.now() + 60_000;
  while (toMake > 0 && madeAt === 0 && performance.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  const allMadeMs = toMake > 0 && madeAt > 0 ? Math.round(madeAt - began) : ms;
  child.kill("SIGTERM");
  await exited;
  return { ms, allMadeMs, cpuMs, mainMs, ...started };
}

/** The threads of `pid` that used more than 0.1 s of CPU, busiest first, by name and thread id. */
function threadsOf(pid: number): string {
  return readdirSync(`/proc/${pid}/task`)
    .map((tid) => ({
      name: `${readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim()}${Number(tid) === pid ? " (main)" : ` ${tid}`}`,
      ms: cpuMsOf(pid, Number(tid)) ?? 0,
    }))
    .filter((t) => t.ms > 100)
    .sort((a, b) => b.ms - a.ms)
    .map((t) => `${t.name} ${(t.ms / 1000).toFixed(1)} s`)
    .join(", ");
}

/** `node --version` of a Node.js binary. */
function nodeVersion(binary: string): string {
  return execFileSync(binary, ["--version"], { encoding: "utf8" }).trim();
}

/** --cold --compare: restored starts of this checkout and of `other`, alternating, and a summary. */
async function compare(folder: string, yaml: string, other: string): Promise<void> {
  const variants = [
    LAUNCH,
    {
      node: args["compare-node"] ?? args.node,
      root: resolve(other),
      flags: args["compare-flags"] ?? args["node-flags"],
    },
  ].map((launch: Launch) => ({
    launch,
    name: `${launch.root} ${nodeVersion(launch.node)} ${launch.flags}${launch.compileCache ? " (compile cache)" : ""}`,
  }));
  const results = new Map(variants.map((v) => [v.name, [] as Awaited<ReturnType<typeof coldStart>>[]]));
  for (let run = 0; run < Number(args.runs); run++)
    for (const v of run % 2 === 0 ? variants : [...variants].reverse()) {
      const r = await coldStart(folder, "restored", yaml, v.launch);
      results.get(v.name)!.push(r);
      console.log(
        `run ${run + 1} ${v.name}: ready ${r.ms} ms after spawn (all restored devices made ${r.allMadeMs} ms), Gateway.start ${r.startupMs} ms, main thread ${(r.mainMs / 1000).toFixed(1)} s of CPU, ${r.points} points (load average ${loadavg()[0]!.toFixed(1)})`,
      );
    }
  const stats = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return `min ${sorted[0]} median ${sorted[Math.floor(sorted.length / 2)]}`;
  };
  for (const [name, rs] of results)
    console.log(
      `${name}: ready ${stats(rs.map((r) => r.ms))} ms; all restored devices made ${stats(rs.map((r) => r.allMadeMs))} ms; Gateway.start ${stats(rs.map((r) => r.startupMs))} ms; main thread CPU ${stats(rs.map((r) => r.mainMs))} ms`,
    );
}

async function fill(folder: string, yaml: string): Promise<number> {
  const { setup } = checkSetupSource(parseYamlText(yaml, join(PROJECT_ROOT, "config", "bench.yaml")), {});
  const catalog = setup!.catalog;
  const store = new HistoryStore(
    { folder, flushInterval: 1, maxBacklog: 10_000_000, retentionDays: 30, maxBytes: 2 ** 40 },
    getLogger("bench:history"),
  );
  // Upkeep never begun: with --down beyond 10 minutes, the values wait in `recent` as a gateway
  // stopped that long ago leaves them, however long the fill takes.
  store.start(true);
  const now = Date.now();
  let n = 0;
  for (let d = 0; d < DEVICES; d++)
    for (const def of catalog.points) {
      const id = store.pointId(`${def.topicId}/${DEVICE_TYPE}/${deviceName(d)}/${DEVICE_SOURCE}`);
      const t = now - Number(args.down) * 60_000 + (n % 1000);
      store.append(
        id,
        { value: storedValue(def.dataType, n), sourceTime: t, serverTime: t + 5, status: 0 },
        true,
      );
      n++;
      if (def.alarm && args["open-alarms"]) store.appendEvent(openAlarm(d, def.browseName, t));
    }
  store.flush();
  while (store.counters.written < n || store.counters.backlog > 0)
    await new Promise((r) => setTimeout(r, 100));
  await store.stop();
  return n;
}

async function main(): Promise<void> {
  silenceLogging();
  const folder = mkdtempSync(join(tmpdir(), "history-restore-"));
  const yaml = JSON.stringify({
    broker: { port: 0 },
    http: { enabled: false },
    opcua: { port: 0, hostname: "127.0.0.1", securityPolicies: ["None"], allowAnonymous: true },
    mapping: { maxDevices: DEVICES + 10 },
    history: { folder },
    log: { level: "warn" },
  });
  try {
    const stored = await fill(folder, yaml);
    console.log(`store filled: ${DEVICES} devices, ${stored} points with a value; node ${process.version}`);
    const store = new HistoryStore(
      { folder, flushInterval: 1, maxBacklog: 1000, retentionDays: 30, maxBytes: 2 ** 40 },
      getLogger("bench:history"),
    );
    store.start();
    for (let run = 0; run < 3; run++) {
      const t = performance.now();
      const points = (await store.restorable()).length;
      console.log(`restorable(): ${points} points read in ${Math.round(performance.now() - t)} ms`);
    }
    await store.stop();
    // For comparison, the same devices declared, with a store of their own that has no values (its
    // devices are not restored): the start-up without restoring.
    const declared = JSON.stringify({
      ...JSON.parse(yaml),
      history: { folder: join(folder, "declared") },
      devices: Array.from({ length: DEVICES }, (_, d) => ({
        type: DEVICE_TYPE,
        name: deviceName(d),
        source: DEVICE_SOURCE,
      })),
    });
    if (args.cold && !existsSync(join(ROOT, "dist/src/cli.js")))
      throw new Error("--cold runs the compiled gateway: npm run build first");
    if (args.cold && args["compile-cache"]) {
      const r = await coldStart(folder, "declared", declared);
      console.log(`compile cache warmed by a start (ready ${r.ms} ms after spawn)`);
    }
    if (args.compare) return await compare(folder, yaml, args.compare);
    for (let run = 0; run < Number(args.runs); run++)
      for (const [what, text] of [
        ["restored", yaml],
        ["declared", declared],
      ] as const) {
        if (args.cold) {
          const load = loadavg()[0]!.toFixed(1);
          const r = await coldStart(folder, what, text);
          console.log(
            `run ${run + 1} (fresh process): ready ${r.ms} ms after spawn (Gateway.start ${r.startupMs} ms; all restored devices made ${r.allMadeMs} ms after spawn), ${(r.cpuMs / 1000).toFixed(1)} s of CPU (main thread ${(r.mainMs / 1000).toFixed(1)} s), ${r.points} points of ${r.devices} devices ${what} (load average ${load})`,
          );
          continue;
        }
        const { setup } = checkSetupSource(
          parseYamlText(text, join(PROJECT_ROOT, "config", "bench.yaml")),
          {},
        );
        // With the command catalog and users, as `run` starts it: each method is nodes to build.
        const { config, catalog, users, commands } = setup!;
        const gateway = new Gateway(config, catalog, users, commands);
        const load = loadavg()[0]!.toFixed(1);
        const t = performance.now();
        const cpu = process.cpuUsage();
        const mainCpu = mainThreadCpu();
        await gateway.start();
        const ms = Math.round(performance.now() - t);
        const { user, system } = process.cpuUsage(cpu);
        const cpuText = `${((user + system) / 1e6).toFixed(1)} s of CPU (main thread ${(mainThreadCpu() - mainCpu).toFixed(1)} s)`;
        const { points, devices } = gateway.diagnostics();
        while ((gateway.ingest?.pendingDevices ?? 0) > 0) await new Promise((r) => setTimeout(r, 20));
        const allMade = Math.round(performance.now() - t);
        await gateway.stop();
        console.log(
          `run ${run + 1}: start-up ${ms} ms (all restored devices made ${allMade} ms), ${cpuText}, ${points} points of ${devices} devices ${what} (load average ${load})`,
        );
      }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

await main();
