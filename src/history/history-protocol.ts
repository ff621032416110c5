import type { JournalEvent } from "../mapping/journal-types.js";
import type { BatchColumns } from "./record-batch.js";

/** What the history thread needs to open the store (structured-clone safe). */
export interface HistoryThreadData {
  file: string;
  retentionDays: number;
  maxBytes: number;
  /** Latest values received longer ago than this are removed: their devices are not restored. */
  forgetAfterDays: number;
}

/** One flush: its records and events; `topics` names the points new since the last. */
export interface Batch {
  topics: [number, string][];
  records: BatchColumns;
  events: JournalEvent[];
}

export type ToThread = { t: "batch"; batch: Batch } | { t: "stop" };

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
  /** `topics`: the failed batch's new points, sent again with the next one. */
  | { t: "failed"; count: number; message: string; topics: [number, string][] }
  | { t: "stopped" };
