import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { GatewayConfig } from "../../src/config/config-types.js";
import { HistoryStore } from "../../src/history/history-store.js";
import { getLogger, silenceLogging } from "../../src/shared/logger.js";
import { useCleanups } from "../harness/cleanups.js";
import { startPostgres, type TestPostgres } from "../harness/postgres-server.js";
import { startTcpProxy } from "../harness/tcp-proxy.js";
import { needs } from "../harness/tools.js";
import { waitFor } from "../harness/wait.js";

if (!process.env.GATEWAY_TEST_LOGS) silenceLogging();

const T0 = Date.UTC(2026, 10, 1);
const POINTS = 20;

/** history.postgres as a user writes it, towards the test's server (or a proxy before it). */
function postgresConfig(pg: TestPostgres, port = pg.port): GatewayConfig["history"]["postgres"] {
  return {
    enabled: true,
    host: pg.host,
    port,
    database: pg.database,
    user: pg.user,
    password: pg.password,
    passwordFile: "",
    tls: { enabled: false, caFile: "", certFile: "", keyFile: "", rejectUnauthorized: true },
    schema: "smartgear",
    gateway: "gw-reliability",
    batchSize: 2000,
    maxBacklog: 10_000_000,
    unreachableAfter: 60,
    // The half-open test waits this out; a healthy local server answers a batch in milliseconds.
    queryTimeout: 3,
    retentionDays: 0,
    compressAfterDays: 7,
  };
}

/** Rows in PostgreSQL, and distinct (point, time) among them: equal when none came twice. */
async function counts(pg: TestPostgres): Promise<{ rows: number; distinct: number }> {
  const [r] = await pg.query<{ rows: string; distinct: string }>(
    "SELECT count(*) AS rows, count(DISTINCT (point_id, time)) AS distinct FROM smartgear.samples",
  );
  return { rows: Number(r!.rows), distinct: Number(r!.distinct) };
}

describe("history shipped to PostgreSQL through its faults", needs("postgres"), () => {
  const { track, defer } = useCleanups();

  function openStore(folder: string, postgres: GatewayConfig["history"]["postgres"]): HistoryStore {
    const store = new HistoryStore(
      {
        folder,
        flushInterval: 0.05,
        maxBacklog: 1_000_000,
        retentionDays: 3650,
        maxBytes: 1 << 30,
        postgres,
      },
      getLogger("gateway:history"),
    );
    expect(store.start()).toBe(true);
    return store;
  }

  const tempFolder = () => {
    const folder = mkdtempSync(join(tmpdir(), "history-pg-rel-"));
    defer(async () => rmSync(folder, { recursive: true, force: true }));
    return folder;
  };

  /** Values `from`..`to`-1, spread over POINTS points, one second apart per point. */
  function append(store: HistoryStore, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const id = store.pointId(`11/${(i % POINTS) + 1}/3WA/Feeder 01/ETU`);
      store.append(
        id,
        { value: i, sourceTime: T0 + i * 1000, serverTime: T0 + i * 1000 + 3, status: 0 },
        true,
      );
    }
  }

  it("loses nothing and sends nothing twice when PostgreSQL crashes under load and comes back", {
    timeout: 120_000,
  }, async () => {
    const pg = track(await startPostgres());
    const store = track(openStore(tempFolder(), postgresConfig(pg)));
    const total = 30_000;
    let appended = 0;
    let crashed = false;
    // ~10,000 values/s for 3 s, in 20 ms steps, while the server crashes (immediate shutdown: WAL
    // recovery at restart) and is down for about a second. The second half waits for the crash: on
    // a loaded machine the first shipment came after the whole load had been appended.
    const load = (async () => {
      while (appended < total) {
        if (appended >= total / 2 && !crashed) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        const next = Math.min(total, appended + 200);
        append(store, appended, next);
        appended = next;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await waitFor("some values shipped", () => (store.counters.postgres?.shipped ?? 0) > 0, 30_000);
    await pg.pause("immediate");
    crashed = true;
    const whileDown = appended;
    await new Promise((r) => setTimeout(r, 1000));
    await pg.resume();
    await load;
    expect(appended).toBeGreaterThan(whileDown);
    await waitFor("every value shipped", () => store.counters.postgres?.shipped === total, 60_000);
    expect(await counts(pg)).toEqual({ rows: total, distinct: total });
    const p = store.counters.postgres!;
    expect(p.backlog).toBe(0);
    expect(p.errors.ship + p.errors.connect).toBeGreaterThan(0);
    expect(p.droppedByAge + p.droppedByBacklog + p.droppedRejected).toBe(0);
    // Each point's values in order of time, all there.
    const perPoint = await pg.query<{ n: string }>(
      "SELECT count(*) AS n FROM smartgear.history GROUP BY point ORDER BY point",
    );
    expect(perPoint.map((r) => Number(r.n))).toEqual(Array(POINTS).fill(total / POINTS));
  });

  it("does not send a batch again whose COMMIT went through but whose answer was lost", {
    timeout: 60_000,
  }, async () => {
    const pg = track(await startPostgres());
    const proxy = track(await startTcpProxy(pg.port));
    const store = track(openStore(tempFolder(), postgresConfig(pg, proxy.port)));
    append(store, 0, 100);
    await waitFor("the first batch shipped", () => store.counters.postgres?.shipped === 100, 30_000);
    // From the next COMMIT on, nothing comes back; the link is cut once the server has committed.
    let committed = false;
    proxy.onUpstream((chunk) => {
      if (chunk.includes("COMMIT\0")) committed = true;
      return chunk;
    });
    proxy.onDownstream(() => !committed);
    append(store, 100, 300);
    await waitFor("the COMMIT sent", () => committed, 30_000);
    await waitFor("the batch in PostgreSQL", async () => (await counts(pg)).rows === 300, 30_000);
    proxy.onDownstream(null);
    proxy.onUpstream(null);
    proxy.cut();
    append(store, 300, 400);
    await waitFor("the next batch shipped", async () => (await counts(pg)).rows >= 400, 30_000);
    await waitFor("the backlog empty", () => store.counters.postgres?.backlog === 0, 30_000);
    expect(await counts(pg)).toEqual({ rows: 400, distinct: 400 });
  });

  it("gives up a connection that stops answering (half-open) and ships everything on a new one, once", {
    timeout: 120_000,
  }, async () => {
    const pg = track(await startPostgres());
    const proxy = track(await startTcpProxy(pg.port));
    const store = track(openStore(tempFolder(), postgresConfig(pg, proxy.port)));
    append(store, 0, 100);
    await waitFor("the first batch shipped", () => store.counters.postgres?.shipped === 100, 30_000);
    // No FIN, no RST: only the statement timeout (history.postgres.queryTimeout) can tell.
    proxy.stall();
    append(store, 100, 200);
    // Within queryTimeout (3 s) and room for a loaded machine, well before pg's 30 s default.
    await waitFor("the batch given up", () => (store.counters.postgres?.errors.ship ?? 0) > 0, 20_000);
    proxy.resume();
    await waitFor("everything shipped", () => store.counters.postgres?.shipped === 200, 60_000);
    expect(await counts(pg)).toEqual({ rows: 200, distinct: 200 });
  });

  it("ships every kind of value as SQL reads it, and only counts one whose time PostgreSQL cannot take", {
    timeout: 60_000,
  }, async () => {
    const pg = track(await startPostgres());
    const store = track(openStore(tempFolder(), postgresConfig(pg)));
    const id = store.pointId("21/14/3WA/Feeder 01/ETU");
    const values = [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      -0.000123,
      true,
      false,
      null,
      "tab\there, line\nbreak, back\\slash, NUL\u0000gone, ünïcode",
      new Date(Date.UTC(2026, 1, 3, 4, 5, 6, 7)),
    ];
    for (const [i, value] of values.entries())
      store.append(id, {
        value,
        sourceTime: T0 + i * 1000,
        serverTime: T0 + i * 1000 + 3,
        status: 0x80000000 + i,
      });
    // Year 10000: JavaScript has it, PostgreSQL's text input does not; the values around it go.
    store.append(id, { value: 1, sourceTime: Date.UTC(10000, 0, 1), serverTime: T0, status: 0 });
    store.append(id, { value: 2, sourceTime: T0 + 100_000, serverTime: T0 + 100_003, status: 0 });
    await waitFor("the values shipped", () => store.counters.postgres?.shipped === values.length + 1, 30_000);
    expect(store.counters.postgres!.droppedRejected).toBe(1);
    const rows = await pg.query<{ value: number | null; text: string | null; status: string }>(
      "SELECT value, text, status FROM smartgear.history ORDER BY time",
    );
    expect(rows.map((r) => [r.value, r.text])).toEqual([
      [Number.NaN, null],
      [Number.POSITIVE_INFINITY, null],
      [Number.NEGATIVE_INFINITY, null],
      [-0.000123, null],
      [1, null],
      [0, null],
      [null, null],
      [null, "tab\there, line\nbreak, back\\slash, NULgone, ünïcode"],
      [null, "2026-02-03T04:05:06.007Z"],
      [2, null],
    ]);
    expect(rows.slice(0, 9).map((r) => Number(r.status))).toEqual(values.map((_, i) => 0x80000000 + i));
  });

  it("keeps what PostgreSQL has not taken across a restart of the gateway, and ships it then", {
    timeout: 60_000,
  }, async () => {
    const pg = track(await startPostgres());
    const folder = tempFolder();
    const first = openStore(folder, postgresConfig(pg));
    append(first, 0, 500);
    await waitFor("500 shipped", () => first.counters.postgres?.shipped === 500, 30_000);
    await pg.pause();
    append(first, 500, 2000);
    await waitFor("1,500 committed locally", () => first.counters.written === 2000, 30_000);
    await first.stop();
    await pg.resume();
    const second = track(openStore(folder, postgresConfig(pg)));
    expect(second.counters.postgres?.shipped).toBe(0);
    await waitFor(
      "the backlog shipped after the restart",
      () => second.counters.postgres?.shipped === 1500,
      30_000,
    );
    expect(await counts(pg)).toEqual({ rows: 2000, distinct: 2000 });
  });
});
