import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { encodeChunk, type HistoryRecord } from "../../src/history/chunk-codec.js";
import { type Db, openDb } from "../../src/history/history-db.js";
import { Outbox } from "../../src/history/outbox.js";

const T0 = Date.UTC(2026, 10, 1);
const dbs: Db[] = [];
const folders: string[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
  for (const f of folders.splice(0)) rmSync(f, { recursive: true, force: true });
});

function open(file?: string): { db: Db; file: string } {
  let path = file;
  if (!path) {
    const folder = mkdtempSync(join(tmpdir(), "history-outbox-"));
    folders.push(folder);
    path = join(folder, "history.sqlite");
  }
  const db = openDb(path);
  dbs.push(db);
  return { db, file: path };
}

/** A commit's row of `n` values of `point`, its newest at `end`. */
function add(outbox: Outbox, point: number, end: number, n: number): void {
  const records: HistoryRecord[] = Array.from({ length: n }, (_, i) => ({
    value: i,
    sourceTime: end - (n - 1 - i) * 1000,
    serverTime: end,
    status: 0,
  }));
  outbox.add(point, records[0]!.sourceTime, end, n, encodeChunk(records, records[0]!.sourceTime));
  outbox.added(n);
}

describe("the outbox of values not yet shipped to PostgreSQL", () => {
  it("keeps its rows, their count and the store's name across a reopen", () => {
    const { db, file } = open();
    const first = new Outbox(db, 1000);
    add(first, 1, T0, 10);
    add(first, 2, T0, 5);
    db.close();
    dbs.pop();
    const again = new Outbox(open(file).db, 1000);
    expect(again.values).toBe(15);
    expect(again.storeId).toBe(first.storeId);
    expect(again.storeId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("hands out the oldest rows first, as many as make a batch, and counts what is removed", () => {
    const outbox = new Outbox(open().db, 1000);
    for (let k = 0; k < 5; k++) add(outbox, k + 1, T0 + k, 10);
    const batch = outbox.take(25);
    expect(batch.map((r) => r.point)).toEqual([1, 2, 3]);
    expect(outbox.remove(batch.at(-1)!.seq)).toBe(30);
    expect(outbox.values).toBe(20);
    expect(outbox.take(1000).map((r) => r.point)).toEqual([4, 5]);
  });

  it("drops the oldest rows beyond its bound and those older than the retention, counted, never those being shipped", () => {
    const outbox = new Outbox(open().db, 100);
    for (let k = 0; k < 10; k++) add(outbox, 1, T0 + k * 1000, 20);
    // The first two rows are in flight: trimmed from after them.
    expect(outbox.take(40)).toHaveLength(2);
    expect(outbox.trim(T0 + 3500)).toEqual({ byAge: 40, byBacklog: 60 });
    expect(outbox.values).toBe(100);
    // What is left: the two in flight, then the newest rows, in order.
    const left = outbox.take(1000);
    expect(left.map((r) => r.t + 19_000)).toEqual([T0, T0 + 1000, T0 + 7000, T0 + 8000, T0 + 9000]);
  });
});
