/**
 * Memory and start-up: a gateway without devices, then one with --memory-devices declared devices,
 * each measured from inside (heap and RSS after forced GC around the building of the points).
 */
import { RUNTIME_FLAGS } from "../../src/shared/runtime-flags.js";
import type { BenchBroker } from "./broker.js";
import { round } from "./common.js";
import type { BenchContext } from "./context.js";

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

export interface MemoryResult {
  devices: number;
  catalogPointsPerDevice: number;
  points: number;
  startMs: number;
  buildPointsMs: number;
  startMsWithoutDevices: number;
  heapPerPointBytes: number;
  rssPerPointBytes: number;
  heapPerPointAllInBytes: number;
  rssPerPointAllInBytes: number;
  heapAfterStartMiB: number | null;
  rssAfterStartMiB: number | null;
  heapWithoutDevicesMiB: number | null;
  rssWithoutDevicesMiB: number | null;
}

export async function measureMemory(ctx: BenchContext, broker: BenchBroker): Promise<MemoryResult> {
  const { opts } = ctx;
  const memory: Record<string, unknown>[] = [];
  for (const devices of [0, opts.memoryDevices]) {
    ctx.log(`memory: gateway with ${devices} declared devices`);
    const child = ctx.processes.fork(
      `gateway-mem-${devices}`,
      "gateway",
      {
        url: broker.url,
        devices,
        pki: ctx.pki,
        "client-id": `bench-mem-${process.pid}-${devices}`,
        "measure-memory": 1,
        history: opts.history ? "on" : "off",
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
  return {
    devices: opts.memoryDevices,
    catalogPointsPerDevice: ctx.catalog.points.length,
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
