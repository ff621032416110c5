import assert from "node:assert/strict";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { type IngestRig, memory, startIngestRig } from "./ingest-harness.js";

/**
 * Floods of the ingest path (issue 7, item 6): `names` messages each naming a device never seen,
 * then `names` messages each with a topic id the catalog does not know, handed to
 * PointMirror.handle in chunks with the event loop let run between chunks (as the MQTT socket
 * delivers them: a read's worth at a time). The transport is not the point here; the maps,
 * nodes and counters behind it are.
 */

/** The default mapping.maxDevices. */
export const FLOOD_MAX_DEVICES = 1000;
export const FLOOD_YAML = `mapping:\n  maxDevices: ${FLOOD_MAX_DEVICES}\n`;
/** PointMirror remembers this many distinct unknown topics; beyond, it only counts them. */
export const REMEMBERED_UNKNOWN = 10_000;

export interface FloodPhase {
  messages: number;
  ms: number;
  messagesPerSecond: number;
  /** Event-loop lag while flooding (ms; sampled every 5 ms): p50, p99, max. */
  lagP50: number;
  lagP99: number;
  lagMax: number;
}

export interface FloodFigures {
  names: number;
  chunk: number;
  /** RSS and heap (bytes, after a full GC) before the floods, after the device cap was reached, at the end. */
  rssBefore: number;
  rssAtCap: number;
  rssAfter: number;
  heapBefore: number;
  heapAtCap: number;
  heapAfter: number;
  devices: number;
  deviceLimit: number;
  unknownTopics: number;
  rememberedUnknown: number;
  deviceNames: FloodPhase;
  unknownIds: FloodPhase;
}

export async function runIngestFlood(options: { names: number; chunk?: number }): Promise<FloodFigures> {
  const rig = await startIngestRig(FLOOD_YAML);
  try {
    return await flood(rig, options);
  } finally {
    await rig.stop();
  }
}

async function phase(
  rig: IngestRig,
  count: number,
  chunk: number,
  message: (i: number) => string,
  afterFirst?: (i: number) => void,
): Promise<FloodPhase> {
  const payload = Buffer.from("230.4");
  const resolution = 5;
  const lag = monitorEventLoopDelay({ resolution });
  lag.enable();
  const started = performance.now();
  for (let i = 0; i < count; ) {
    const end = Math.min(count, i + chunk);
    for (; i < end; i++) rig.ingest.handle(message(i), payload);
    afterFirst?.(i);
    await yieldToLoop();
  }
  const ms = performance.now() - started;
  lag.disable();
  // The histogram holds the intervals between its timer's runs: the lag is what exceeds `resolution`.
  const toMs = (ns: number) => Math.max(0, Math.round((ns / 1e6 - resolution) * 100) / 100);
  return {
    messages: count,
    ms: Math.round(ms),
    messagesPerSecond: Math.round((count / ms) * 1000),
    lagP50: toMs(lag.percentile(50)),
    lagP99: toMs(lag.percentile(99)),
    lagMax: toMs(lag.max),
  };
}

async function flood(rig: IngestRig, { names, chunk = 1000 }: { names: number; chunk?: number }) {
  assert.ok(names > 2 * FLOOD_MAX_DEVICES, "the flood must pass the device cap");
  const before = memory();
  let atCap: ReturnType<typeof memory> | null = null;
  // Distinct device names on a catalog point (11/5, Voltage L1): the first 1000 become devices.
  const deviceNames = await phase(
    rig,
    names,
    chunk,
    (i) => `11/5/3WA/flood-${i}/ETU`,
    (i) => {
      if (!atCap && i >= 2 * FLOOD_MAX_DEVICES) atCap = memory();
    },
  );
  const afterNames = rig.counts();
  // Distinct unknown ids (family 11 is known, ids ≥ 1,000,000 are not) on devices that exist.
  const unknownIds = await phase(rig, names, chunk, (i) => `11/${1_000_000 + i}/3WA/flood-${i % 10}/ETU`);
  const after = memory();
  const c = rig.counts();

  assert.equal(c.by.internalError, 0, "caught by the catch-all (internalError): see the log");
  assert.equal(c.received, 2 * names);
  assert.equal(c.decoded + c.rejected, c.received);
  assert.equal(afterNames.devices, FLOOD_MAX_DEVICES, "devices capped at mapping.maxDevices");
  assert.equal(afterNames.by.deviceLimit, names - FLOOD_MAX_DEVICES, "every device beyond the cap counted");
  assert.equal(afterNames.decoded, FLOOD_MAX_DEVICES);
  assert.equal(c.devices, FLOOD_MAX_DEVICES, "unknown ids create no device");
  assert.equal(c.points, afterNames.points, "unknown ids create no point");
  assert.equal(c.by.unknownId, names, "every unknown id counted");
  assert.equal(c.unknownTopics, names, "every distinct unknown topic counted");
  assert.equal(
    rig.rememberedUnknown(),
    Math.min(names, REMEMBERED_UNKNOWN),
    "remembered unknown topics bounded",
  );
  const cap = atCap as ReturnType<typeof memory> | null;
  assert.ok(cap);
  return {
    names,
    chunk,
    rssBefore: before.rss,
    rssAtCap: cap.rss,
    rssAfter: after.rss,
    heapBefore: before.heapUsed,
    heapAtCap: cap.heapUsed,
    heapAfter: after.heapUsed,
    devices: c.devices,
    deviceLimit: c.by.deviceLimit,
    unknownTopics: c.unknownTopics,
    rememberedUnknown: rig.rememberedUnknown(),
    deviceNames,
    unknownIds,
  };
}
