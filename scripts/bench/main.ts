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

import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadCatalog } from "../../src/model/catalog-loader.js";
import { PROJECT_ROOT } from "../../src/shared/paths.js";
import { RUNTIME_FLAGS } from "../../src/shared/runtime-flags.js";
import { type BenchBroker, startBroker } from "./broker.js";
import { BenchProcesses } from "./children.js";
import { benchLayout, round } from "./common.js";
import type { BenchContext } from "./context.js";
import { busyCores, describeMachine, versionOf } from "./machine.js";
import { measureMemory } from "./memory.js";
import { type BenchOptions, parseOptions, USAGE, UsageError } from "./options.js";
import { formatReport, resultsDocument } from "./report.js";
import { ladder } from "./steps.js";
import { judgeTargets, type Results } from "./targets.js";

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

/** Starts the broker, runs the ladders and the memory run; a failure ends the run with what it has. */
async function measure(ctx: BenchContext): Promise<{ results: Results; aborted: boolean }> {
  const { opts, machine, layout, notes } = ctx;
  const results: Results = {};
  let broker: BenchBroker | null = null;
  try {
    const idle = await busyCores(1000, machine.cores);
    machine.busyCoresBeforeStart = idle === null ? null : round(idle, 2);
    if (idle !== null && idle > 0.2)
      notes.push(
        `WARNING: before the bench started, other work kept ${idle.toFixed(2)} cores busy: the machine is not idle.`,
      );
    broker = await startBroker(opts.broker, ctx.processes);
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

    const publisher = ctx.processes.fork("publisher", "publisher", {
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
      const bare = ctx.processes.fork(
        "bare",
        "bare-subscriber",
        { url: broker.url, protocol: broker.kind === "aedes" ? 4 : 5 },
        [...RUNTIME_FLAGS],
      );
      await bare.ready(30_000);
      results.bare = await ladder(
        ctx,
        "bare MQTT.js",
        { publisher, receiver: bare, broker, client: null },
        null,
      );
      await bare.stop();
    }

    // 2. The gateway, with an OPC UA client monitoring every mirrored point.
    if (!opts.skipGateway) {
      const gatewayArgs = {
        url: broker.url,
        devices: layout.devices.length,
        pki: ctx.pki,
        "client-id": `bench-gateway-${process.pid}`,
        history: opts.history ? "on" : "off",
      };
      const profileDir = join(PROJECT_ROOT, ".tmp", "bench-profile");
      if (opts.profile) mkdirSync(profileDir, { recursive: true });
      const gateway = ctx.processes.fork("gateway", "gateway", gatewayArgs, [
        ...RUNTIME_FLAGS,
        ...(opts.profile ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : []),
      ]);
      const gwReady = await gateway.ready(180_000);
      log(
        `gateway: ${gwReady.points} points of ${gwReady.devices} devices, started in ${Math.round(Number(gwReady.startMs))} ms`,
      );
      const client = ctx.processes.fork("client", "opcua-client", {
        endpoint: String(gwReady.endpointUrl),
        topics: opts.topics,
        pki: ctx.pki,
        "publishing-interval": opts.publishingInterval,
        "queue-size": opts.queueSize,
      });
      const clientReady = await client.ready(300_000);
      log(
        `client: monitoring ${clientReady.monitored} points (subscribed in ${Math.round(Number(clientReady.subscribeMs))} ms)`,
      );
      const gw = await ladder(
        ctx,
        "gateway",
        { publisher, receiver: gateway, broker, client },
        opts.latencyRate,
      );
      results.gateway = {
        topics: layout.topics.length,
        devices: layout.devices.length,
        // What the children reported, as they reported it.
        points: gwReady.points as number,
        startMs: Math.round(Number(gwReady.startMs)),
        buildPointsMs: Math.round(Number(gwReady.buildPointsMs)),
        monitoredItems: clientReady.monitored as number,
        subscribeMs: Math.round(Number(clientReady.subscribeMs)),
        publishingIntervalMs: clientReady.publishingInterval as number,
        queueSize: clientReady.queueSize as number,
        ...gw,
      };
      await client.stop();
      await gateway.stop(20_000);
      if (opts.profile) notes.push(`CPU profile of the gateway process written to ${profileDir}`);
    }
    await publisher.stop();

    // 3. Memory and start-up: a gateway without devices, then one with the declared points.
    if (!opts.skipMemory) results.memory = await measureMemory(ctx, broker);
  } catch (err) {
    notes.push(`RUN ABORTED: ${(err as Error).message}`);
    log(`ERROR ${(err as Error).stack ?? String(err)}`);
    return { results, aborted: true };
  } finally {
    await ctx.processes.stopAll();
    await broker?.stop().catch(() => {});
  }
  return { results, aborted: false };
}

async function main(): Promise<number> {
  let opts: BenchOptions | "help";
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(err.text);
    return 2;
  }
  if (opts === "help") {
    process.stdout.write(USAGE);
    return 0;
  }

  const processes = new BenchProcesses();
  processes.installCleanup();
  const startedAt = Date.now();
  const timeoutS = opts.timeoutS;
  const overall = setTimeout(() => {
    log(`TIMEOUT: the run exceeded --timeout ${timeoutS} s; stopping every child process`);
    process.exit(3);
  }, timeoutS * 1000);

  const catalog = loadCatalog();
  const ctx: BenchContext = {
    opts,
    machine: describeMachine(),
    catalog,
    layout: benchLayout(catalog, opts.topics),
    processes,
    pki: join(tmpdir(), "smartgear-bench-pki"),
    notes: [],
    log,
    published: 0,
  };
  mkdirSync(ctx.pki, { recursive: true });

  const { results, aborted } = await measure(ctx);
  const judged = judgeTargets(ctx, results);
  const json = JSON.stringify(resultsDocument(ctx, results, judged, startedAt), null, 2);
  process.stdout.write(`${formatReport(ctx, results, judged)}\n\n${json}\n`);
  writeFileSync(resolve(PROJECT_ROOT, opts.out), `${json}\n`);
  log(`results written to ${opts.out}`);
  clearTimeout(overall);
  return aborted ? 1 : 0;
}

// Children and node-opcua's timers may outlive the run: exit explicitly.
main().then((code) => process.exit(code));
