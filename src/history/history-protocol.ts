import type { AggregateValues, Computation } from "../mapping/aggregates.js";
import type { PostgresShippingCounters } from "../mapping/counters.js";
import type { JournalEvent } from "../mapping/journal-types.js";
import type { RestorableColumns } from "./history-db.js";
import type { PostgresThreadOptions, ShippingNote } from "./postgres-forwarder.js";
import type { BatchColumns } from "./record-batch.js";

/** What the history thread needs to open the store (structured-clone safe). */
export interface HistoryThreadData {
  file: string;
  retentionDays: number;
  maxBytes: number;
  /** Latest values received longer ago than this are removed: their devices are not restored. */
  forgetAfterDays: number;
  /** history.postgres, its secrets read; null: not enabled. */
  postgres: PostgresThreadOptions | null;
  /** Packing and retention wait for an `upkeep` message (the gateway started) rather than begin at once. */
  upkeepDeferred: boolean;
}

/** One flush: its records and events; `topics` names the points new since the last. */
export interface Batch {
  topics: [number, string][];
  records: BatchColumns;
  events: JournalEvent[];
}

/** A computation of the history thread, on the store's point. */
export type ReadQuery = Computation & { point: number };

export type ToThread =
  | { t: "batch"; batch: Batch }
  | { t: "read"; id: number; query: ReadQuery }
  /** What a start restores: the devices that published since `cutoff` (HistoryStore.restorable). */
  | { t: "restorable"; cutoff: number }
  /** Begin packing and retention, if not begun (HistoryStore.startUpkeep). */
  | { t: "upkeep" }
  | { t: "stop" };

/** After each batch and each upkeep: running totals, so a lost message loses nothing. */
export interface WriterFigures {
  written: number;
  droppedByAge: number;
  droppedBySize: number;
  eventsWritten: number;
  eventsDroppedByAge: number;
  eventsDroppedBySize: number;
  bytes: number;
}

export type FromThread =
  | { t: "written"; count: number; figures: WriterFigures }
  /** `topics`: the failed batch's new points, sent again with the next one; `code`: SQLite's (SQLITE_FULL). */
  | { t: "failed"; count: number; message: string; code: string; topics: [number, string][] }
  /** A read's values (typed arrays, moved), or why it failed. */
  | { t: "read"; id: number; values: AggregateValues | null; error?: string }
  /** The answer to a `restorable` (typed arrays, moved), or why it failed. */
  | { t: "restorable"; columns: RestorableColumns | null; error?: string }
  /** The forwarder's running totals, after each batch shipped and each failure, with a line to log. */
  | { t: "shipping"; figures: PostgresShippingCounters; note?: ShippingNote }
  | { t: "stopped" };
