import { execFileSync } from "node:child_process";
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StatusCodes } from "node-opcua";
import { describe, expect, it } from "vitest";
import type { HistoryRecord } from "../../src/history/chunk-codec.js";
import { DB_FILE } from "../../src/history/history-db.js";
import { HistoryStore } from "../../src/history/history-store.js";
import type { Logger } from "../../src/shared/logger.js";
import { publish } from "../harness/brokers.js";
import { useCleanups } from "../harness/cleanups.js";
import { startGateway } from "../harness/gateway.js";
import { get, sample } from "../harness/http.js";
import { connectClient, nodeOf, waitStatus } from "../harness/opcua-client.js";
import { waitFor } from "../harness/wait.js";

/**
 * The history store's faults (README, History: faults): a full disk, made real with a small tmpfs
 * (mounting one needs root: elsewhere these tests skip, saying why), and a store that is no
 * database or whose structure is damaged.
 */

const T0 = Date.UTC(2026, 10, 29);
const TOPIC = "11/5/3WA/Feeder 01/ETU";
const at = (i: number): HistoryRecord => ({ value: i, sourceTime: T0 + i, serverTime: T0 + i, status: 0 });

/** A logger that keeps each line's level, message and fields. */
function capturingLogger() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) =>
      lines.push({ level, message, fields });
  const logger = { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") };
  return { lines, logger: logger as unknown as Logger };
}

const storeOptions = (folder: string, extra = {}) => ({
  folder,
  flushInterval: 0.1,
  maxBacklog: 1_000_000,
  retentionDays: 36500,
  maxBytes: 2 ** 40,
  ...extra,
});

/** Mounts a tmpfs of `size` on `dir`; false where this process may not (not root, no CAP_SYS_ADMIN). */
function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Fills the file system of `file` to its last block; returns the filler to delete for space. */
function fillDisk(file: string): string {
  const fd = openSync(file, "w");
  try {
    for (const size of [1 << 20, 1 << 16, 1 << 12, 1 << 9])
      for (;;)
        try {
          writeSync(fd, Buffer.alloc(size));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
          break;
        }
  } finally {
    closeSync(fd);
  }
  return file;
}

/**
 * history.diskFullRetry for these tests: the default 10 s would be most of their time, waiting. The
 * store's test checks that appends are dropped at once while paused, so its pause must outlast a
 * poll on a loaded machine; the gateway's test has no such step.
 */
const STORE_RETRY_S = 5;
const GATEWAY_RETRY_S = 1;

describe("a full disk (SQLITE_FULL on a real, full tmpfs)", () => {
  const { defer, track } = useCleanups();

  /** A tmpfs on a new temporary folder, unmounted at the end; null where it cannot be mounted. */
  function smallDisk(size: string): string | null {
    const dir = mkdtempSync(join(tmpdir(), "history-disk-"));
    defer(async () => rmSync(dir, { recursive: true, force: true }));
    if (!mountTmpfs(dir, size)) return null;
    defer(async () => void execFileSync("umount", [dir]));
    return dir;
  }

  it("pauses history, logged once and counted diskFull, and resumes by itself once there is space again", {
    timeout: 120_000,
  }, async (ctx) => {
    const disk = smallDisk("8m");
    if (!disk) return ctx.skip("mounting a tmpfs needs root");
    const { lines, logger } = capturingLogger();
    const store = new HistoryStore(
      storeOptions(join(disk, "history"), { diskFullRetry: STORE_RETRY_S }),
      logger,
    );
    expect(store.start()).toBe(true);
    defer(() => store.stop());
    const id = store.pointId(TOPIC);
    const filler = fillDisk(join(disk, "filler"));
    let i = 0;
    // A round of values a flush, until a commit finds no room (the WAL has some already).
    await waitFor(
      "the disk full",
      async () => {
        for (const end = i + 20_000; i < end; i++) store.append(id, at(i));
        await new Promise((r) => setTimeout(r, 200));
        return store.degradation()?.reason === "diskFull" || undefined;
      },
      30_000,
      0,
    );
    const dropped = store.counters.droppedByDiskFull;
    expect(dropped).toBeGreaterThan(0);
    // Paused: appends are dropped at once, counted, not held (nothing grows).
    for (let k = 0; k < 1000; k++) store.append(id, at(i++));
    expect(store.counters.droppedByDiskFull).toBe(dropped + 1000);
    expect(store.counters.droppedByWriteError).toBe(0);
    // Past a retry, which fails again: still one line.
    const retried = Date.now() + STORE_RETRY_S * 1000 + 2000;
    while (Date.now() < retried) {
      for (let k = 0; k < 5000; k++) store.append(id, at(i++));
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(store.degradation()).toMatchObject({ reason: "diskFull" });
    const paused = lines.filter((l) => l.message.startsWith("history paused: disk full"));
    expect(paused).toHaveLength(1);
    expect(paused[0]!.level).toBe("error");
    expect(paused[0]!.fields.retrySeconds).toBe(STORE_RETRY_S);

    rmSync(filler);
    const resumedFrom = i;
    await waitFor(
      "history resumed",
      async () => {
        store.append(id, at(i++));
        await new Promise((r) => setTimeout(r, 200));
        return store.degradation() === null || undefined;
      },
      30_000,
      0,
    );
    expect(lines.filter((l) => l.message.startsWith("history resumed"))).toHaveLength(1);
    // What was appended once resumed is stored.
    const kept = i;
    for (let k = 0; k < 100; k++) store.append(id, at(i++));
    store.flush();
    await waitFor(
      "the last values committed",
      async () => {
        const read = store.read(TOPIC, { from: T0 + kept, to: T0 + i, forward: true, limit: 0, skip: 0 });
        return read?.length === 100 || undefined;
      },
      30_000,
    );
    expect(resumedFrom).toBeGreaterThan(0);
  });

  it("a gateway on a full disk: /readyz degraded with the reason, diskFull on /metrics, the mirror goes on; ready again once there is space", {
    timeout: 120_000,
  }, async (ctx) => {
    const disk = smallDisk("8m");
    if (!disk) return ctx.skip("mounting a tmpfs needs root");
    const gw = track(
      await startGateway(
        `history: { folder: ${JSON.stringify(join(disk, "history"))}, flushInterval: 0.2, diskFullRetry: ${GATEWAY_RETRY_S} }\n`,
      ),
    );
    const client = track(await connectClient(gw.endpointUrl));
    const filler = fillDisk(join(disk, "filler"));
    const readyz = async () => JSON.parse((await get(`${gw.httpUrl}/readyz`)).text);
    let n = 0;
    // Many points and values a flush, so that the WAL needs room the disk has not.
    const burst = () =>
      publish(
        gw.brokerUrl,
        Array.from({ length: 2000 }, (_, k) => ({
          topic: `11/${1 + (k % 60)}/3WA/Feeder ${String(k % 20).padStart(2, "0")}/ETU`,
          payload: String(n++),
        })),
      );
    const degraded = await waitFor(
      "/readyz degraded by a full disk",
      async () => {
        await burst();
        const r = await readyz();
        return r.degraded?.history?.reason === "diskFull" ? r : undefined;
      },
      60_000,
      300,
    );
    expect(degraded).toMatchObject({ status: "degraded", broker: true, opcua: true });
    expect(degraded.degraded.history.dropped).toBeGreaterThan(0);
    expect(
      await sample(gw.httpUrl, 'smartgear_history_values_dropped_total{reason="diskFull"}'),
    ).toBeGreaterThan(0);
    // The mirror goes on: the next value is shown, Good.
    await publish(gw.brokerUrl, [{ topic: TOPIC, payload: "231.5" }]);
    await waitStatus(client, TOPIC, StatusCodes.Good);
    expect((await client.read(nodeOf(TOPIC))).value.value).toBe(231.5);

    rmSync(filler);
    const written = (await sample(gw.httpUrl, "smartgear_history_values_written_total")) ?? 0;
    await waitFor(
      "/readyz ready again",
      async () => {
        await publish(gw.brokerUrl, [{ topic: TOPIC, payload: String(n++) }]);
        return (await readyz()).status === "ready" || undefined;
      },
      60_000,
      300,
    );
    expect(await sample(gw.httpUrl, "smartgear_history_values_written_total")).toBeGreaterThan(written);
  });
});

describe("a store that cannot be opened at start", () => {
  const { defer, track } = useCleanups();
  const folder = () => {
    const f = mkdtempSync(join(tmpdir(), "history-corrupt-"));
    defer(async () => rmSync(f, { recursive: true, force: true }));
    return f;
  };

  /** The store started on `dir`: its log lines and what the folder holds afterwards. */
  async function startOn(dir: string) {
    const { lines, logger } = capturingLogger();
    const store = new HistoryStore(storeOptions(dir), logger);
    expect(store.start()).toBe(true);
    defer(() => store.stop());
    return { store, lines, files: readdirSync(dir).sort() };
  }

  it("is moved aside when it is no database (history.sqlite.corrupt-<time>, WAL with it), and a new one made that records", async () => {
    const dir = folder();
    writeFileSync(join(dir, DB_FILE), "this is not a database, it is a text file of some length.");
    writeFileSync(join(dir, `${DB_FILE}-wal`), "a write-ahead log that belongs to it");
    const { store, lines, files } = await startOn(dir);
    const aside = files.find((f) => /^history\.sqlite\.corrupt-\d{4}-\d\d-\d\dT[\d-]+Z$/.test(f));
    expect(aside).toBeDefined();
    expect(files).toContain(`${aside}-wal`);
    expect(readFileSync(join(dir, aside!), "utf8")).toMatch(/^this is not a database/);
    expect(lines.filter((l) => l.level === "error")).toEqual([
      {
        level: "error",
        message: "history store corrupt: moved aside, a new one made (its values are not in history)",
        fields: expect.objectContaining({
          file: join(dir, DB_FILE),
          movedTo: join(dir, aside!),
          code: "SQLITE_NOTADB",
        }),
      },
    ]);
    const id = store.pointId(TOPIC);
    store.append(id, at(1));
    store.flush();
    await waitFor("the value committed", async () => store.counters.written === 1 || undefined);
    expect(store.read(TOPIC, { from: T0, to: T0 + 10, forward: true, limit: 0, skip: 0 })).toEqual([at(1)]);
  });

  it("is moved aside when its structure is damaged (SQLITE_CORRUPT), and a restart then finds the new one sound", async () => {
    const dir = folder();
    const first = new HistoryStore(storeOptions(dir), capturingLogger().logger);
    expect(first.start()).toBe(true);
    first.append(first.pointId(TOPIC), at(1));
    await first.stop();
    // The first page past the file header holds the schema's b-tree: garbage there is damage, not a foreign file.
    const file = join(dir, DB_FILE);
    const bytes = readFileSync(file);
    bytes.fill(0xa5, 100, 16_384);
    writeFileSync(file, bytes);
    const { store, lines, files } = await startOn(dir);
    // The file and, since its opening made them, its WAL and index.
    const aside = files.filter((f) => f.startsWith(`${DB_FILE}.corrupt-`));
    expect(aside.filter((f) => !/-(wal|shm)$/.test(f))).toHaveLength(1);
    expect(lines.find((l) => l.level === "error")?.fields.code).toMatch(/^SQLITE_CORRUPT/);
    expect(lines.filter((l) => l.message === "history store open")).toHaveLength(1);
    await store.stop();
    await startOn(dir);
    expect(readdirSync(dir).filter((f) => f.startsWith(`${DB_FILE}.corrupt-`))).toEqual(aside);
  });

  it("is left alone while another gateway holds it: this one runs without history, and gets it once the other stops", async () => {
    const dir = folder();
    const { store: holder } = await startOn(dir);
    holder.append(holder.pointId(TOPIC), at(1));
    const { lines, logger } = capturingLogger();
    const second = new HistoryStore(storeOptions(dir), logger);
    expect(second.start()).toBe(false);
    expect(lines).toEqual([
      {
        level: "error",
        message: "history store cannot be opened: running without history",
        fields: {
          file: join(dir, DB_FILE),
          error: "the store is in use by another gateway (history.lock is locked)",
        },
      },
    ]);
    await holder.stop();
    const { store: third, files } = await startOn(dir);
    expect(files.filter((f) => f.includes("corrupt"))).toEqual([]);
    expect(third.read(TOPIC, { from: T0, to: T0 + 10, forward: true, limit: 0, skip: 0 })).toEqual([at(1)]);
  });

  it("a gateway whose store cannot be opened runs without history and /readyz says so: 200 degraded, storeNotOpen", async () => {
    const dir = folder();
    // A file where the folder should be: nothing to move aside, and nothing the gateway may touch.
    const blocked = join(dir, "history");
    writeFileSync(blocked, "a file");
    const gw = track(await startGateway(`history: { folder: ${JSON.stringify(join(blocked, "store"))} }\n`));
    const ready = await get(`${gw.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toEqual({
      status: "degraded",
      broker: true,
      opcua: true,
      degraded: { history: { reason: "storeNotOpen" } },
      serviceLevel: expect.any(Number),
    });
    expect(readdirSync(dir)).toEqual(["history"]);
    expect(readFileSync(blocked, "utf8")).toBe("a file");
  });
});
