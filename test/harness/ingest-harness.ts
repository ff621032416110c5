import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { type DataValue, NodeId, NodeIdType, StatusCodes } from "node-opcua";
import type { Gateway } from "../../src/app/gateway.js";
import type { PointMirror } from "../../src/bridge/point-mirror.js";
import { REJECT_REASONS, type RejectReason } from "../../src/mapping/counters.js";
import { startGateway } from "./gateway.js";

/**
 * What the reliability scenarios share (vitest tests and `npm run soak` alike): a real gateway whose
 * ingest path (PointMirror.handle) is driven in-process, its counters (internal errors among them:
 * reason `internalError`) and variables read through its diagnostics view, and garbage collection
 * on demand.
 */
export interface IngestRig {
  gateway: Gateway;
  ingest: PointMirror;
  /** The value of the variable of `topic` (NodeId ns=2;s=<topic>) as a Read sees it; null without one. */
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
  // Its read() holds for the gateway's life; its figures are those of the moment it was taken.
  const view = gateway.diagnostics();
  return {
    gateway,
    ingest,
    read(topic) {
      // By its NodeId, as a client reads it: a variable created under another's NodeId (a topic that
      // node-opcua would parse as NodeId syntax) is not found, or shows another point's value.
      const value = view.read(new NodeId(NodeIdType.STRING, topic, 2));
      return value.statusCode === StatusCodes.BadNodeIdUnknown ? null : value;
    },
    counts() {
      const c = gateway.counters;
      const now = gateway.diagnostics();
      return {
        received: c.received,
        decoded: c.decoded,
        rejected: c.rejected,
        unknownTopics: c.unknownTopics,
        devices: now.devices,
        points: now.points,
        by: Object.fromEntries(REJECT_REASONS.map((r) => [r, c.rejectedBy.get(r) ?? 0])) as Record<
          RejectReason,
          number
        >,
      };
    },
    rememberedUnknown: () => gateway.diagnostics().rememberedUnknownTopics,
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
