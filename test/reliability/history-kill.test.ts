import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DB_FILE, openDb } from "../../src/history/history-db.js";
import { HistoryStore } from "../../src/history/history-store.js";
import { getLogger } from "../../src/shared/logger.js";
import { useCleanups } from "../harness/cleanups.js";

const FLUSH_S = 0.5;
const CHILD_T0 = Date.UTC(2026, 10, 1);
const CHILD_TOPIC = "11/5/3WA/Kill/ETU";

describe("the history store killed with SIGKILL while it writes", () => {
  const { defer } = useCleanups();

  it("reopens intact and has lost at most the last flush interval's values", {
    timeout: 60_000,
  }, async () => {
    const folder = mkdtempSync(join(tmpdir(), "history-kill-"));
    defer(async () => rmSync(folder, { recursive: true, force: true }));
    const child = fork(
      join(import.meta.dirname, "../harness/history-writer-child.ts"),
      [folder, String(FLUSH_S), CHILD_TOPIC, String(CHILD_T0)],
      {
        execArgv: ["--import", "tsx"],
      },
    );
    defer(async () => void child.kill("SIGKILL"));
    let appended = -1;
    child.on("message", (m) => {
      appended = m as number;
    });
    // Long enough for several flushes and a packing of chunks (128 values a chunk).
    await new Promise((r) => setTimeout(r, 4000));
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
    expect(appended).toBeGreaterThan(1000);

    const db = openDb(join(folder, DB_FILE));
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    db.close();
    const store = new HistoryStore(
      { folder, flushInterval: 1, maxBacklog: 1000, retentionDays: 36500, maxBytes: 2 ** 40 },
      getLogger("test:history"),
    );
    expect(store.start()).toBe(true);
    defer(() => store.stop());
    const values = store.read(CHILD_TOPIC, {
      from: CHILD_T0,
      to: CHILD_T0 + 3_600_000,
      forward: true,
      limit: 0,
      skip: 0,
    })!;
    // A prefix, without gaps or repeats: what was committed is whole.
    expect(values.map((v) => v.value)).toEqual(values.map((_, i) => i));
    // Lost: what was appended in the last flush interval (plus a commit and the 50 ms report), no more.
    // Generous for a loaded machine: the commit of a flush may wait for the CPU.
    const lost = appended - (values.length - 1);
    expect(lost).toBeLessThanOrEqual(FLUSH_S * 1000 * 4);
  });
});
