import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { type DataValue, NodeId, NodeIdType, type OPCUAServer, type UAVariable } from "node-opcua";
import type { Gateway } from "../../src/app/gateway.js";
import type { PointMirror } from "../../src/bridge/point-mirror.js";
import { REJECT_REASONS, type RejectReason } from "../../src/mapping/counters.js";
import { startGateway } from "./gateway.js";

/**
 * What the reliability scenarios share (vitest tests and `npm run soak` alike): a real gateway whose
 * ingest path (PointMirror.handle) is driven in-process, a view of its counters (internal errors
 * among them: reason `internalError`), its variables, and garbage collection on demand.
 */
export interface IngestRig {
  gateway: Gateway;
  ingest: PointMirror;
  /** The variable mirrored from `topic`, or null when there is none. */
  variable(topic: string): UAVariable | null;
  read(topic: string): DataValue | null;
  counts(): Counts;
  /** The distinct unknown topics PointMirror remembers (bounded at 10,000). */
  rememberedUnknown(): number;
  stop(): Promise<void>;
}

export interface Counts {
  received: number;
  decoded: number;
  rejected: number;
  unknownTopics: number;
  devices: number;
  points: number;
  by: Record<RejectReason, number>;
}

export async function startIngestRig(yaml: string): Promise<IngestRig> {
  const gw = await startGateway(yaml);
  const gateway = gw.gateway;
  const ingest = gateway.ingest!;
  // The gateway keeps its OPC UA server to itself; its address space is node-opcua's public API.
  const addressSpace = (gateway as unknown as { server: OPCUAServer }).server.engine.addressSpace!;
  // Mirrored variables only (the address space also holds folders and diagnostics).
  const points = (ingest as unknown as { points: Map<string, { variable: UAVariable }> }).points;
  const variable = (topic: string) => {
    const v = points.get(topic)?.variable ?? null;
    // The point's variable is the address space's node of that NodeId (not a prefix's, not another's).
    if (v && addressSpace.findNode(new NodeId(NodeIdType.STRING, topic, 2)) !== v)
      throw new Error(`the node of ${JSON.stringify(topic)} is not its variable`);
    return v;
  };
  return {
    gateway,
    ingest,
    variable,
    read: (topic) => variable(topic)?.readValue() ?? null,
    counts() {
      const c = gateway.counters;
      return {
        received: c.received,
        decoded: c.decoded,
        rejected: c.rejected,
        unknownTopics: c.unknownTopics,
        devices: ingest.deviceCount,
        points: ingest.pointCount,
        by: Object.fromEntries(REJECT_REASONS.map((r) => [r, c.rejectedBy.get(r) ?? 0])) as Record<
          RejectReason,
          number
        >,
      };
    },
    rememberedUnknown: () => (ingest as unknown as { unknownTopics: Set<string> }).unknownTopics.size,
    async stop() {
      await gw.stop();
    },
  };
}

/** The reasons whose counter grew between two snapshots. */
export function reasonsBetween(before: Counts, after: Counts): RejectReason[] {
  return REJECT_REASONS.filter((r) => after.by[r] !== before.by[r]);
}

let gcFn: (() => void) | null | undefined;

/**
 * A full garbage collection, or false where none can be had. vitest's forks do not run with
 * --expose-gc; V8 lets the flag be set at run time, and a new context then sees `gc`.
 */
export function collectGarbage(): boolean {
  if (gcFn === undefined) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (g) gcFn = g;
    else {
      try {
        setFlagsFromString("--expose-gc");
        gcFn = runInNewContext("gc") as () => void;
      } catch {
        gcFn = null;
      }
    }
  }
  if (!gcFn) return false;
  gcFn();
  gcFn();
  return true;
}

export const MB = 1024 * 1024;

/** Heap used and RSS (bytes) after a full collection where one is possible. */
export function memory(): { heapUsed: number; rss: number; gc: boolean } {
  const gc = collectGarbage();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss, gc };
}

/** The properties Object.prototype has now: a fuzz case must leave them as they were. */
export function prototypeFingerprint(): string {
  return Reflect.ownKeys(Object.prototype)
    .map((k) => String(k))
    .sort()
    .join(",");
}
