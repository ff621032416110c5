/**
 * HistoryRead round trips against a real gateway (README, History; issue 13's targets): a raw read
 * of one day of 1 Hz values (86,400) in one request (≤ 300 ms), and a 15-minute Average over 30
 * days of 1 Hz values (2.6 million raw values, 2,880 intervals) (≤ 1 s). Fills a store in a
 * temporary folder with one point's --days of 1 Hz values, starts a gateway on it (the point's
 * device is restored from the store) and reads it with a node-opcua client in this process.
 * `npx tsx scripts/bench/history-read.ts [--days 30] [--runs 5]`
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  AggregateConfiguration,
  BinaryStream,
  DataType,
  HistoryData,
  HistoryReadRequest,
  MessageSecurityMode,
  ObjectIds,
  OPCUAClient,
  ReadProcessedDetails,
  ReadRawModifiedDetails,
  resolveNodeId,
  SecurityPolicy,
  TimestampsToReturn,
} from "node-opcua";
import { Gateway } from "../../src/app/gateway.js";
import { checkSetupSource } from "../../src/app/setup.js";
import { DB_FILE, openDb } from "../../src/history/history-db.js";
import { HistoryStore } from "../../src/history/history-store.js";
import { encodeHistoryData } from "../../src/opcua/patches/encoded-history-data.js";
import { getLogger, silenceLogging } from "../../src/shared/logger.js";
import { PROJECT_ROOT } from "../../src/shared/paths.js";
import { parseYamlText } from "../../src/shared/yaml-source.js";
import { DEVICE_SOURCE, DEVICE_TYPE, deviceName } from "./common.js";

const { values: args } = parseArgs({
  options: { days: { type: "string", default: "30" }, runs: { type: "string", default: "5" } },
});
const DAYS = Number(args.days);
const DAY = 86_400_000;
const TOPIC = `11/5/${DEVICE_TYPE}/${deviceName(0)}/${DEVICE_SOURCE}`;
/** The last stored value is a minute old; the first DAYS days before it. */
const END = Math.floor(Date.now() / 1000) * 1000 - 60_000;
const START = END - DAYS * DAY;
const history = (folder: string) => ({
  folder,
  flushInterval: 1,
  maxBacklog: 10_000_000,
  retentionDays: DAYS + 2,
  maxBytes: 2 ** 40,
});

/** DAYS days of a phase voltage at 1 Hz, two decimals, committed and packed into chunks. */
async function fill(folder: string): Promise<number> {
  const store = new HistoryStore(history(folder), getLogger("bench:history"));
  store.start();
  const id = store.pointId(TOPIC);
  let n = 0;
  for (let t = START; t < END; t += 1000) {
    const value = Math.round((230 + 5 * Math.sin(t / 3_600_000) + (n % 7) / 10) * 100) / 100;
    store.append(id, { value, sourceTime: t, serverTime: t + 3, status: 0 }, true);
    if (++n % 100_000 === 0) store.flush();
  }
  store.flush();
  while (store.counters.written < n) await new Promise((r) => setTimeout(r, 200));
  // The thread packs them into chunks at its next upkeep (every 5 s).
  const db = openDb(join(folder, DB_FILE), true);
  const waiting = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM recent");
  while (waiting.get()!.n > 0) await new Promise((r) => setTimeout(r, 500));
  db.close();
  await store.stop();
  return n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Where a raw day's round trip goes, each step alone on this thread: the store read (main thread),
 * encoding the response's HistoryData, and what a node-opcua client spends decoding it.
 */
async function breakdown(folder: string): Promise<void> {
  const store = new HistoryStore(history(folder), getLogger("bench:history"));
  store.start();
  /** Wall and CPU ms of `f` (CPU: the process's, i.e. this thread's here, the history thread idle). */
  const step = <T>(f: () => T): [T, string] => {
    const t = performance.now();
    const cpu = process.cpuUsage();
    const r = f();
    const used = process.cpuUsage(cpu);
    return [
      r,
      `${Math.round(performance.now() - t)} ms (CPU ${Math.round((used.user + used.system) / 1000)} ms)`,
    ];
  };
  for (let run = 1; run <= 3; run++) {
    const [day, read] = step(
      () => store.read(TOPIC, { from: END - DAY, to: END - 1, forward: true, limit: 0, skip: 0 })!,
    );
    const [bytes, encode] = step(() => encodeHistoryData(day, DataType.Double));
    const [decoded, decode] = step(() => {
      const data = new HistoryData();
      data.decode(new BinaryStream(bytes));
      return data;
    });
    // What the gateway did before (and node-opcua's own historian does): a DataValue object a
    // value, encoded by node-opcua (building the objects not counted).
    const [, objects] = step(() => {
      const before = new HistoryData({ dataValues: decoded.dataValues });
      const stream = new BinaryStream(before.binaryStoreSize());
      before.encode(stream);
    });
    console.log(
      `raw day, step by step: store read ${day.length} values ${read}, encode ${encode} (${bytes.length} bytes; ` +
        `node-opcua encoding them as DataValue objects: ${objects}), ` +
        `a node-opcua client's decode ${decode} (load average ${loadavg()[0]!.toFixed(1)})`,
    );
  }
  await store.stop();
}

async function main(): Promise<void> {
  silenceLogging();
  const folder = mkdtempSync(join(tmpdir(), "history-read-"));
  try {
    const at = performance.now();
    const stored = await fill(folder);
    console.log(
      `store filled: ${stored} values of one point in ${Math.round(performance.now() - at)} ms; node ${process.version}`,
    );
    await breakdown(folder);
    const yaml = JSON.stringify({
      broker: { port: 0 },
      http: { enabled: false },
      opcua: { port: 0, hostname: "127.0.0.1", securityPolicies: ["None"], allowAnonymous: true },
      history: history(folder),
      log: { level: "warn" },
    });
    const { setup } = checkSetupSource(parseYamlText(yaml, join(PROJECT_ROOT, "config", "bench.yaml")), {});
    const gateway = new Gateway(setup!.config, setup!.catalog);
    await gateway.start();
    const client = OPCUAClient.create({
      endpointMustExist: false,
      securityMode: MessageSecurityMode.None,
      securityPolicy: SecurityPolicy.None,
      connectionStrategy: { maxRetry: 0 },
    });
    await client.connect(gateway.endpointUrl.replace(/\/\/[^:/]+:/, "//127.0.0.1:"));
    const session = await client.createSession();
    const nodeId = `ns=2;s=${TOPIC}`;
    // When the response's last chunk arrived: what a client of any stack has before it decodes (a C
    // or .NET client's decoding of 86,400 values is not node-opcua's). node-opcua's channel emits
    // each chunk it receives; a bench may peek at it (not the gateway's code).
    const channel = (client as unknown as { _secureChannel?: NodeJS.EventEmitter })._secureChannel;
    let lastChunkAt = 0;
    channel?.on("receive_chunk", () => {
      lastChunkAt = performance.now();
    });
    // Wall time, and this process's CPU time (gateway, its history thread and the client): the machine is shared.
    const timed = async (
      details: ReadRawModifiedDetails | ReadProcessedDetails,
      timestampsToReturn = TimestampsToReturn.Both,
    ) => {
      const t = performance.now();
      const cpu = process.cpuUsage();
      const response = await session.historyRead(
        new HistoryReadRequest({
          historyReadDetails: details,
          timestampsToReturn,
          nodesToRead: [{ nodeId }],
        }),
      );
      const ms = performance.now() - t;
      const wireMs = channel ? lastChunkAt - t : Number.NaN;
      const used = process.cpuUsage(cpu);
      const cpuMs = Math.round((used.user + used.system) / 1000);
      const result = response.results![0]!;
      return {
        ms,
        wireMs,
        cpuMs,
        values: (result.historyData as HistoryData).dataValues?.length ?? 0,
        status: result.statusCode.name,
      };
    };
    const raw: number[] = [];
    const rawSource: number[] = [];
    const rawSourceWire: number[] = [];
    const average: number[] = [];
    for (let run = 1; run <= Number(args.runs); run++) {
      const load = loadavg()[0]!.toFixed(1);
      const rawDay = new ReadRawModifiedDetails({
        isReadModified: false,
        startTime: new Date(END - DAY),
        endTime: new Date(END),
        numValuesPerNode: 0,
        returnBounds: false,
      });
      const day = await timed(rawDay);
      // What a trend asks: source timestamps only.
      const daySource = await timed(rawDay, TimestampsToReturn.Source);
      const month = await timed(
        new ReadProcessedDetails({
          startTime: new Date(START),
          endTime: new Date(END),
          processingInterval: 15 * 60_000,
          aggregateType: [resolveNodeId(ObjectIds.AggregateFunction_Average)],
          aggregateConfiguration: new AggregateConfiguration({ useServerCapabilitiesDefaults: true }),
        }),
      );
      raw.push(day.ms);
      rawSource.push(daySource.ms);
      rawSourceWire.push(daySource.wireMs);
      average.push(month.ms);
      console.log(
        `run ${run}: raw day ${day.values} values ${day.status} in ${Math.round(day.ms)} ms (CPU ${day.cpuMs} ms), ` +
          `Source timestamps only ${Math.round(daySource.ms)} ms (CPU ${daySource.cpuMs} ms; last chunk in after ${Math.round(daySource.wireMs)} ms); ` +
          `15-minute Average of ${DAYS} days ${month.values} intervals ${month.status} in ${Math.round(month.ms)} ms (CPU ${month.cpuMs} ms) (load average ${load})`,
      );
    }
    console.log(
      `median: raw day ${Math.round(median(raw))} ms, Source only ${Math.round(median(rawSource))} ms (target 300; ` +
        `its last chunk in after ${Math.round(median(rawSourceWire))} ms), ` +
        `Average ${Math.round(median(average))} ms (target 1000)`,
    );
    await session.close();
    await client.disconnect();
    await gateway.stop();
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

await main();
