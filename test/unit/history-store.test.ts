import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { decodeRecords, encodeChunk, type HistoryRecord } from "../../src/history/chunk-codec.js";
import { CHUNK_VALUES, EventReader, openDb, RangeReader } from "../../src/history/history-db.js";
import { HistoryStore } from "../../src/history/history-store.js";
import { HistoryWriter } from "../../src/history/history-writer.js";
import { RecordBatch, recordAt } from "../../src/history/record-batch.js";
import type { JournalEvent } from "../../src/mapping/journal-types.js";
import { getLogger, type Logger } from "../../src/shared/logger.js";
import { waitFor } from "../harness/wait.js";

const folders: string[] = [];
const tempFolder = () => {
  const f = mkdtempSync(join(tmpdir(), "history-test-"));
  folders.push(f);
  return f;
};
afterEach(() => {
  for (const f of folders.splice(0)) rmSync(f, { recursive: true, force: true });
});

const T0 = Date.UTC(2026, 10, 1);
const GOOD = 0;
const UNCERTAIN_NO_COMM = 0x408f0000;
const at = (i: number, value: HistoryRecord["value"] = i, status = GOOD): HistoryRecord => ({
  value,
  sourceTime: T0 + i * 1000,
  serverTime: T0 + i * 1000 + 7,
  status,
});

describe("the packed form of a point's records", () => {
  it("gives back every kind of value, status change and timestamp, also when time steps back", () => {
    const records: HistoryRecord[] = [
      at(0, 230.45),
      at(1, true),
      at(2, false),
      at(3, "SN-0042 ünïcode"),
      at(4, new Date(Date.UTC(2026, 1, 3, 4, 5, 6))),
      at(5, 230.5, UNCERTAIN_NO_COMM),
      at(6, null, 0x80310000),
      { value: -1e300, sourceTime: T0 - 86_400_000, serverTime: T0 + 99_999, status: GOOD },
    ];
    expect(decodeRecords(encodeChunk(records, T0), T0)).toEqual(records);
  });

  it("crosses to the history thread as columns with every kind of value intact", () => {
    const records = [at(0, 1.5), at(1, true), at(2, false), at(3, null), at(4, "text"), at(5, new Date(T0))];
    const batch = new RecordBatch();
    for (let k = 0; k < 1000; k++) for (const r of records) batch.append(k, r, r.value === true);
    const { columns, transfer } = batch.take();
    expect(batch.length).toBe(0);
    expect(transfer).toHaveLength(7);
    expect(Array.from(columns.fresh.subarray(5994))).toEqual([0, 1, 0, 0, 0, 0]);
    expect(columns.length).toBe(6000);
    expect(Array.from({ length: 6 }, (_, i) => recordAt(columns, 5994 + i))).toEqual(records);
    expect(columns.ids[5999]).toBe(999);
  });

  it("keeps a 1 Hz Double within 16 bytes", () => {
    const records = Array.from({ length: CHUNK_VALUES }, (_, i) => at(i, 230 + Math.random()));
    expect(encodeChunk(records, T0).length / CHUNK_VALUES).toBeLessThanOrEqual(13);
  });
});

describe("the history writer and its reads", () => {
  const open = (options = { retentionDays: 30, maxBytes: 1 << 30, forgetAfterDays: 30 }) => {
    const file = join(tempFolder(), "h.sqlite");
    const db = openDb(file);
    return { db, writer: new HistoryWriter(db, file, options), reader: new RangeReader(db) };
  };
  const batch = (id: number, records: HistoryRecord[], fresh = true) => {
    const b = new RecordBatch();
    for (const r of records) b.append(id, r, fresh);
    return {
      topics: [[id, `11/${id}/3WA/F/ETU`]] as [number, string][],
      records: b.take().columns,
      events: [],
    };
  };

  it("reads a range forward and in reverse, paged with skip at equal times, across chunks and recent rows", () => {
    const { db, writer, reader } = open();
    // 301 values, two at one time: the first flush's 201 are packed, the next 100 wait in `recent`.
    const records = Array.from({ length: 300 }, (_, i) => at(i));
    records.splice(150, 0, { ...at(150), value: -150 });
    writer.write(batch(1, records.slice(0, 201)));
    writer.write(batch(1, records.slice(201)));
    expect(db.prepare("SELECT count(*) FROM chunks").pluck().get()).toBe(2);
    expect(db.prepare("SELECT sum(n) FROM recent").pluck().get()).toBe(100);
    const all = reader.read({ point: 1, from: T0, to: T0 + 400_000, forward: true, limit: 0, skip: 0 });
    expect(all.map((r) => r.value)).toEqual(records.map((r) => r.value));
    const page = reader.read({
      point: 1,
      from: T0 + 150_000,
      to: T0 + 400_000,
      forward: true,
      limit: 2,
      skip: 1,
    });
    expect(page.map((r) => r.value)).toEqual([150, 151]);
    const reverse = reader.read({ point: 1, from: T0, to: T0 + 10_000, forward: false, limit: 3, skip: 0 });
    expect(reverse.map((r) => r.value)).toEqual([10, 9, 8]);
    expect(reader.read({ point: 2, from: T0, to: T0 + 1e9, forward: true, limit: 0, skip: 0 })).toEqual([]);
  });

  it("removes values older than history.retentionDays, counted, and keeps the rest", () => {
    const { writer, reader } = open({ retentionDays: 1, maxBytes: 1 << 30, forgetAfterDays: 1 });
    // Retention removes whole chunks: these old values fill two.
    const old = Array.from({ length: 2 * CHUNK_VALUES }, (_, i) => at(i));
    const fresh = Array.from({ length: 10 }, (_, i) => at(2 * 86_400 + i));
    writer.write(batch(1, old));
    writer.write(batch(1, fresh));
    writer.upkeep(T0 + 2 * 86_400_000 + 60_000);
    expect(writer.figures.droppedByAge).toBe(2 * CHUNK_VALUES);
    const left = reader.read({
      point: 1,
      from: 0,
      to: Number.MAX_SAFE_INTEGER,
      forward: true,
      limit: 0,
      skip: 0,
    });
    expect(left.map((r) => r.value)).toEqual(fresh.map((r) => r.value));
  });

  it("removes the oldest values first when the store is over history.maxBytes, counted", () => {
    const maxBytes = 2 * 1024 * 1024;
    const { db, writer, reader } = open({ retentionDays: 30, maxBytes, forgetAfterDays: 30 });
    for (let k = 0; k < 40; k++)
      writer.write(
        batch(
          1,
          Array.from({ length: 10_000 }, (_, i) => at(k * 10_000 + i, Math.random())),
        ),
      );
    writer.upkeep(T0 + 400_000_000);
    expect(writer.figures.droppedBySize).toBeGreaterThan(0);
    const used =
      ((db.pragma("page_count", { simple: true }) as number) -
        (db.pragma("freelist_count", { simple: true }) as number)) *
      (db.pragma("page_size", { simple: true }) as number);
    expect(used).toBeLessThanOrEqual(maxBytes);
    const first = reader.read({
      point: 1,
      from: 0,
      to: Number.MAX_SAFE_INTEGER,
      forward: true,
      limit: 1,
      skip: 0,
    });
    const last = reader.read({
      point: 1,
      from: 0,
      to: Number.MAX_SAFE_INTEGER,
      forward: false,
      limit: 1,
      skip: 0,
    });
    expect(first[0]!.sourceTime).toBeGreaterThan(T0);
    expect(last[0]!.sourceTime).toBe(T0 + 399_999_000);
    const kept = db.prepare("SELECT sum(n) FROM chunks").pluck().get() as number;
    expect(kept + writer.figures.droppedBySize).toBe(400_000);
  });
});

describe("the event journal in the store", () => {
  const open = (options = { retentionDays: 30, maxBytes: 1 << 30, forgetAfterDays: 30 }) => {
    const file = join(tempFolder(), "h.sqlite");
    const db = openDb(file);
    return { db, writer: new HistoryWriter(db, file, options), reader: new EventReader(db) };
  };
  const DEVICE = "ns=2;s=Devices/3WA/F/ETU";
  const CONDITION = `${DEVICE}/Conditions/Phase1MaxTempAlarm`;
  const event = (i: number, extra: Partial<JournalEvent> = {}): JournalEvent => ({
    time: T0 + i * 1000,
    receiveTime: T0 + i * 1000 + 5,
    source: DEVICE,
    type: "ns=0;i=10637",
    condition: CONDITION,
    severity: 800,
    fields: new Uint8Array([i % 256, 1, 2, 3]),
    open: null,
    ...extra,
  });
  const write = (writer: HistoryWriter, events: JournalEvent[]) =>
    writer.write({ topics: [], records: new RecordBatch().take().columns, events });
  const all = { source: null, from: 0, to: Number.MAX_SAFE_INTEGER, forward: true, after: null, limit: 0 };

  it("reads events by source and time, forward and back, a page after another at equal times", () => {
    const { writer, reader } = open();
    // Two events at one time, and one of another source (the Server object's audits).
    write(writer, [
      event(0),
      event(1),
      event(1, { fields: new Uint8Array([9]) }),
      event(2, { source: "ns=0;i=2253" }),
    ]);
    expect(reader.read(all).map((r) => r.t - T0)).toEqual([0, 1000, 1000, 2000]);
    expect(reader.read({ ...all, source: DEVICE }).map((r) => r.t - T0)).toEqual([0, 1000, 1000]);
    const first = reader.read({ ...all, source: DEVICE, limit: 2 });
    const rest = reader.read({ ...all, source: DEVICE, after: { t: first[1]!.t, id: first[1]!.id } });
    expect([...first, ...rest].map((r) => Array.from(r.fields)[0])).toEqual([0, 1, 9]);
    expect(reader.read({ ...all, forward: false, limit: 1 })[0]!.t).toBe(T0 + 2000);
    expect(reader.read({ ...all, from: T0 + 1000, to: T0 + 1000 })).toHaveLength(2);
  });

  it("keeps a condition's last event while it is open, and forgets it once closed", () => {
    const { db, writer } = open();
    const open_ = () =>
      db.prepare("SELECT condition, fields FROM open_conditions").all() as { fields: Uint8Array }[];
    write(writer, [event(0, { open: true }), event(1, { open: true })]);
    expect(open_().map((r) => Array.from(r.fields)[0])).toEqual([1]);
    write(writer, [event(2, { open: false })]);
    expect(open_()).toEqual([]);
    expect(writer.figures.eventsWritten).toBe(3);
  });

  it("removes events older than history.retentionDays and the oldest over history.maxBytes, counted", () => {
    const { reader, writer } = open({ retentionDays: 1, maxBytes: 1 << 30, forgetAfterDays: 1 });
    write(writer, [event(0), event(1), event(2 * 86_400)]);
    writer.upkeep(T0 + 2 * 86_400_000 - 1000);
    expect(writer.figures.eventsDroppedByAge).toBe(2);
    expect(reader.read(all).map((r) => r.t)).toEqual([T0 + 2 * 86_400_000]);

    const maxBytes = 1024 * 1024;
    const small = open({ retentionDays: 30, maxBytes, forgetAfterDays: 30 });
    const big = new Uint8Array(2000).fill(7);
    for (let k = 0; k < 10; k++)
      write(
        small.writer,
        Array.from({ length: 100 }, (_, i) => event(k * 100 + i, { fields: big })),
      );
    small.writer.upkeep(T0 + 1_000_000);
    expect(small.writer.figures.eventsDroppedBySize).toBeGreaterThan(0);
    const kept = small.reader.read(all);
    expect(kept.length + small.writer.figures.eventsDroppedBySize).toBe(1000);
    // The oldest went first.
    expect(kept[0]!.t).toBe(T0 + small.writer.figures.eventsDroppedBySize * 1000);
  });
});

describe("the history store (its thread, its batches, its bounds)", () => {
  const options = (folder: string, extra = {}) => ({
    folder,
    flushInterval: 0.1,
    maxBacklog: 100_000,
    retentionDays: 30,
    maxBytes: 1 << 30,
    ...extra,
  });
  const logger = getLogger("test:history");

  it("commits appended values off the main thread and keeps them and their points across a restart", async () => {
    const folder = tempFolder();
    const store = new HistoryStore(options(folder), logger);
    store.start();
    const id = store.pointId("11/5/3WA/F/ETU");
    for (let i = 0; i < 1000; i++) store.append(id, at(i));
    await waitFor("1,000 written", () => store.counters.written === 1000);
    expect(store.counters.backlog).toBe(0);
    await store.stop();

    const again = new HistoryStore(options(folder), logger);
    again.start();
    try {
      expect(again.pointId("11/5/3WA/F/ETU")).toBe(id);
      expect(again.pointId("11/6/3WA/F/ETU")).not.toBe(id);
      const read = again.read("11/5/3WA/F/ETU", {
        from: T0,
        to: T0 + 5000,
        forward: true,
        limit: 0,
        skip: 0,
      });
      expect(read?.map((r) => r.value)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(again.read("11/7/3WA/F/ETU", { from: 0, to: 1, forward: true, limit: 0, skip: 0 })).toBeNull();
    } finally {
      await again.stop();
    }
  });

  it("packs values left waiting longer than 10 minutes once told to begin its upkeep, not before", async () => {
    const folder = tempFolder();
    const waiting = (file: string) => {
      const db = openDb(file);
      try {
        const count = (table: string) =>
          db.prepare<[], number>(`SELECT count(*) FROM ${table}`).pluck().get()!;
        return { recent: count("recent"), chunks: count("chunks") };
      } finally {
        db.close();
      }
    };
    const file = join(folder, "history.sqlite");
    const down = Date.now() - 11 * 60_000;
    const store = new HistoryStore(options(folder), logger);
    // Deferred here too, never begun: its values wait in `recent` however long it takes to stop.
    store.start(true);
    const id = store.pointId("11/5/3WA/F/ETU");
    for (let i = 0; i < 3; i++)
      store.append(id, { ...at(i), sourceTime: down + i, serverTime: down + i }, true);
    await waitFor("3 written", () => store.counters.written === 3);
    await store.stop();
    expect(waiting(file)).toEqual({ recent: 1, chunks: 0 });

    // As the gateway starts it: the thread's first upkeep (due at once) waits for startUpkeep().
    const again = new HistoryStore(options(folder), logger);
    again.start(true);
    try {
      await new Promise((r) => setTimeout(r, 1000));
      expect(waiting(file)).toEqual({ recent: 1, chunks: 0 });
      again.startUpkeep();
      await waitFor("packed", () => waiting(file).recent === 0, 20_000);
      expect(waiting(file).chunks).toBe(1);
      const read = again.read("11/5/3WA/F/ETU", {
        from: down,
        to: down + 2,
        forward: true,
        limit: 0,
        skip: 0,
      });
      expect(read?.map((r) => r.value)).toEqual([0, 1, 2]);
    } finally {
      await again.stop();
    }
  });

  it("restores whole devices that published within forgetAfterDays, each point with its last fresh value", async () => {
    const folder = tempFolder();
    const now = T0 + 10 * 86_400_000;
    const store = new HistoryStore(options(folder, { retentionDays: 30, forgetAfterDays: 5 }), logger);
    store.start();
    // A recent device: a fresh value, then a status change (stale) that must not replace it.
    const a = store.pointId("11/5/3WA/Recent/ETU");
    const fresh = { value: 230.5, sourceTime: now - 60_000, serverTime: now - 59_000, status: GOOD };
    store.append(a, fresh, true);
    store.append(a, { ...fresh, sourceTime: now - 1000, serverTime: now - 1000, status: 0x40900000 });
    // A point of the same device that never had a value comes back too (BadWaitingForInitialData).
    const never = store.pointId("11/6/3WA/Recent/ETU");
    // A device whose last value came 6 days ago: forgotten (forgetAfterDays 5).
    const old = store.pointId("11/5/3WA/Old/ETU");
    store.append(old, { ...fresh, sourceTime: now - 6 * 86_400_000, serverTime: now - 6 * 86_400_000 }, true);
    await waitFor("written", () => store.counters.written === 3);
    await store.stop();

    const again = new HistoryStore(options(folder, { retentionDays: 30, forgetAfterDays: 5 }), logger);
    // As the gateway opens it: its thread's retention (relative to the clock, not to `now`) waits.
    again.start(true);
    try {
      const restored = (await again.restorable(now)).sort((x, y) => x.topic.localeCompare(y.topic));
      expect(restored).toEqual([
        { topic: "11/5/3WA/Recent/ETU", id: a, last: fresh },
        { topic: "11/6/3WA/Recent/ETU", id: never, last: null },
      ]);
    } finally {
      await again.stop();
    }
  });

  it("logs a restore its thread cannot read and answers no points: the gateway starts without restoring", async () => {
    const folder = tempFolder();
    const store = new HistoryStore(options(folder), logger);
    store.start();
    store.append(store.pointId("11/5/3WA/F/ETU"), at(0), true);
    await waitFor("written", () => store.counters.written === 1);
    await store.stop();
    const errors: string[] = [];
    const quiet = () => {};
    const again = new HistoryStore(options(folder), {
      error: (message: string) => errors.push(message),
      warn: quiet,
      info: quiet,
      debug: quiet,
    } as unknown as Logger);
    again.start(true);
    try {
      // Once its thread has opened the store (and made any table missing), its read of `latest`
      // fails as a damaged table would.
      await again.restorable();
      const db = openDb(join(folder, "history.sqlite"));
      db.exec("DROP TABLE latest");
      db.close();
      expect(await again.restorable()).toEqual([]);
      expect(errors).toEqual(["history store: devices not restored, their values could not be read"]);
    } finally {
      await again.stop();
    }
  });

  it("says so, once, and does not throw when its folder cannot be made (the gateway runs on without it)", () => {
    const file = join(tempFolder(), "a-file");
    writeFileSync(file, "");
    const lines: string[] = [];
    const store = new HistoryStore(options(join(file, "history")), {
      error: (message: string) => lines.push(message),
    } as unknown as Logger);
    expect(store.start()).toBe(false);
    expect(lines).toEqual(["history store cannot be opened: running without history"]);
  });

  it("says why it records less than it should: a backlog at half history.maxBacklog, commits that fail until one succeeds", async () => {
    const folder = tempFolder();
    const store = new HistoryStore(options(folder, { maxBacklog: 1000, flushInterval: 60 }), logger);
    store.start();
    try {
      const id = store.pointId("11/5/3WA/F/ETU");
      for (let i = 0; i < 499; i++) store.append(id, at(i));
      expect(store.degradation()).toBeNull();
      store.append(id, at(499));
      expect(store.degradation()).toEqual({ reason: "backlog", backlog: 500, maxBacklog: 1000 });
      store.flush();
      await waitFor("the backlog committed", async () => store.counters.written === 500 || undefined);
      expect(store.degradation()).toBeNull();
      // Another process damages the store: the writer's commits fail (not for a full disk).
      const other = openDb(join(folder, "history.sqlite"));
      other.exec("ALTER TABLE recent RENAME TO recent_moved");
      store.append(id, at(500));
      store.flush();
      await waitFor("the commit failed", async () => store.counters.droppedByWriteError === 1 || undefined);
      expect(store.degradation()).toMatchObject({ reason: "writeFailing", error: "no such table: recent" });
      expect(store.counters.droppedByDiskFull).toBe(0);
      other.exec("ALTER TABLE recent_moved RENAME TO recent");
      other.close();
      store.append(id, at(501));
      store.flush();
      await waitFor("a commit again", async () => store.counters.written === 501 || undefined);
      expect(store.degradation()).toBeNull();
    } finally {
      await store.stop();
    }
  });

  it("drops and counts values beyond history.maxBacklog instead of growing", async () => {
    const store = new HistoryStore(options(tempFolder(), { maxBacklog: 1000, flushInterval: 60 }), logger);
    store.start();
    try {
      const id = store.pointId("11/5/3WA/F/ETU");
      for (let i = 0; i < 1500; i++) store.append(id, at(i));
      expect(store.counters.backlog).toBe(1000);
      expect(store.counters.droppedByBacklog).toBe(500);
    } finally {
      await store.stop();
    }
  });
});
