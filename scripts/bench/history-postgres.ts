/**
 * `npx tsx scripts/bench/history-postgres.ts`: history shipped to PostgreSQL, measured on this
 * machine against Debian's PostgreSQL started here (test/harness/postgres-server.ts; as root it
 * runs as the `postgres` user) (README, History: PostgreSQL).
 *   1. How to insert: the same rows (the `samples` layout, batches of --batch in one transaction)
 *      by COPY text (pg-copy-streams), by INSERT ... SELECT FROM unnest(arrays), and by multi-row
 *      INSERT ... VALUES with parameters (at most 65,535 a statement, so 10,000 rows each); rows/s,
 *      the client's CPU time included.
 *   2. The gateway's forwarder as it runs (src/history): values/s shipped from the local store
 *      while values arrive, and catching up a backlog left while PostgreSQL was down; then bytes
 *      per row of `samples` in PostgreSQL (pg_total_relation_size: heap, indexes, TOAST, FSM).
 *
 *   npx tsx scripts/bench/history-postgres.ts [--points 100] [--values 500000] [--batch 20000] [--rounds 2]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { HistoryStore } from "../../src/history/history-store.js";
import { schemaStatements } from "../../src/history/postgres-schema.js";
import { getLogger, silenceLogging } from "../../src/shared/logger.js";
import { startPostgres, type TestPostgres } from "../../test/harness/postgres-server.js";

const { values: args } = parseArgs({
  options: {
    points: { type: "string", default: "100" },
    rounds: { type: "string", default: "2" },
    values: { type: "string", default: "500000" },
    batch: { type: "string", default: "20000" },
  },
});
const POINTS = Number(args.points);
const VALUES = Number(args.values);
const BATCH = Number(args.batch);
const T0 = Date.UTC(2026, 10, 1);
silenceLogging();

/** Value i: point i % POINTS, a phase current with two decimals, one second apart per point. */
const row = (i: number) => ({
  point: (i % POINTS) + 1,
  time: T0 + Math.floor(i / POINTS) * 1000,
  value: Math.round((230 + Math.sin(i / 50) * 5) * 100) / 100,
});

type Method = "copy" | "unnest" | "values";

/** Rows/s, and the client's CPU µs a row (what the gateway's history thread would spend). */
async function insertAll(
  c: pg.Client,
  table: string,
  method: Method,
): Promise<{ rate: number; cpu: number }> {
  const cols = "(time, server_time, value, point_id, status, text)";
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (let off = 0; off < VALUES; off += BATCH) {
    const rows = Array.from({ length: Math.min(BATCH, VALUES - off) }, (_, k) => row(off + k));
    await c.query("BEGIN");
    if (method === "copy") {
      const lines = rows.map((r) => {
        const t = new Date(r.time).toISOString();
        return `${t}\t${t}\t${r.value}\t${r.point}\t0\t\\N\n`;
      });
      await pipeline(Readable.from([lines.join("")]), c.query(copyFrom(`COPY ${table} ${cols} FROM STDIN`)));
    } else if (method === "unnest") {
      const times = rows.map((r) => new Date(r.time).toISOString());
      await c.query(
        `INSERT INTO ${table} (time, server_time, value, point_id, status)
         SELECT * FROM unnest($1::timestamptz[], $2::timestamptz[], $3::float8[], $4::int[], $5::int[])`,
        [times, times, rows.map((r) => r.value), rows.map((r) => r.point), rows.map(() => 0)],
      );
    } else {
      for (let k = 0; k < rows.length; k += 10_000) {
        const part = rows.slice(k, k + 10_000);
        const params: unknown[] = [];
        const tuples = part.map((r, j) => {
          const t = new Date(r.time);
          params.push(t, t, r.value, r.point, 0);
          const b = j * 5;
          return `($${b + 1},$${b + 2},$${b + 3},$${b + 4},$${b + 5})`;
        });
        await c.query(
          `INSERT INTO ${table} (time, server_time, value, point_id, status) VALUES ${tuples.join(",")}`,
          params,
        );
      }
    }
    await c.query("COMMIT");
  }
  const used = process.cpuUsage(cpu);
  return { rate: VALUES / ((performance.now() - started) / 1000), cpu: (used.user + used.system) / VALUES };
}

async function compareMethods(server: TestPostgres): Promise<void> {
  const c = new pg.Client({ ...connection(server) });
  await c.connect();
  for (let round = 1; round <= Number(args.rounds); round++)
    for (const method of ["copy", "unnest", "values"] as Method[]) {
      const schema = `m_${method}_${round}`;
      for (const sql of schemaStatements({ schema, compressAfterDays: 7, retentionDays: 0 }, "plain"))
        await c.query(sql);
      const { rate, cpu } = await insertAll(c, `${schema}.samples`, method);
      console.log(
        `insert by ${method.padEnd(6)} round ${round}: ${Math.round(rate).toLocaleString("en")} rows/s, client CPU ${cpu.toFixed(2)} µs a row`,
      );
      await c.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  await c.end();
}

const connection = (s: TestPostgres) => ({
  host: s.host,
  port: s.port,
  database: s.database,
  user: s.user,
  password: s.password,
});

/** The store with history.postgres on; `append` puts VALUES values in, as fast as the main thread can. */
function openStore(folder: string, server: TestPostgres): HistoryStore {
  const store = new HistoryStore(
    {
      folder,
      flushInterval: 1,
      maxBacklog: 10_000_000,
      retentionDays: 3650,
      maxBytes: 8 << 30,
      postgres: {
        enabled: true,
        ...connection(server),
        passwordFile: "",
        tls: { enabled: false, caFile: "", certFile: "", keyFile: "", rejectUnauthorized: true },
        schema: "smartgear",
        gateway: "bench",
        batchSize: BATCH,
        maxBacklog: 50_000_000,
        unreachableAfter: 60,
        queryTimeout: 30,
        retentionDays: 0,
        compressAfterDays: 7,
      },
    },
    getLogger("gateway:history"),
  );
  if (!store.start()) throw new Error("store not opened");
  return store;
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 10));
}

async function forwarder(server: TestPostgres): Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), "bench-history-pg-"));
  try {
    const store = openStore(folder, server);
    const ids = Array.from({ length: POINTS }, (_, p) => store.pointId(`11/${p + 1}/3WA/Feeder ${p}/ETU`));
    const append = (from: number) => {
      for (let i = from; i < from + VALUES; i++) {
        const r = row(i);
        store.append(
          ids[r.point - 1]!,
          { value: r.value, sourceTime: r.time, serverTime: r.time + 3, status: 0 },
          true,
        );
      }
    };
    // Live: values arrive (all at once, committed every second) while the forwarder ships.
    let started = performance.now();
    append(0);
    store.flush();
    await until(() => store.counters.postgres?.shipped === VALUES);
    const live = VALUES / ((performance.now() - started) / 1000);
    console.log(
      `forwarder, live: ${Math.round(live).toLocaleString("en")} values/s shipped (commit to COMMIT)`,
    );

    // Catch-up: a backlog left while PostgreSQL was down, shipped once it is back.
    await server.pause();
    append(VALUES);
    store.flush();
    await until(() => store.counters.written === 2 * VALUES);
    await server.resume();
    await until(() => (store.counters.postgres?.shipped ?? 0) > VALUES);
    started = performance.now();
    const from = store.counters.postgres!.shipped;
    await until(() => store.counters.postgres?.shipped === 2 * VALUES);
    const catchUp = (2 * VALUES - from) / ((performance.now() - started) / 1000);
    console.log(`forwarder, catch-up: ${Math.round(catchUp).toLocaleString("en")} values/s shipped`);
    await store.stop();

    const [size] = await server.query<{ rows: string; bytes: string; heap: string }>(
      `SELECT count(*) AS rows, pg_total_relation_size('smartgear.samples') AS bytes,
              pg_relation_size('smartgear.samples') AS heap FROM smartgear.samples`,
    );
    const rows = Number(size!.rows);
    console.log(
      `PostgreSQL samples: ${rows.toLocaleString("en")} rows, ${(Number(size!.bytes) / rows).toFixed(1)} bytes a row ` +
        `(heap ${(Number(size!.heap) / rows).toFixed(1)}, indexes and the rest ${((Number(size!.bytes) - Number(size!.heap)) / rows).toFixed(1)})`,
    );
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

const server = await startPostgres();
try {
  console.log(
    `${POINTS} points, ${VALUES.toLocaleString("en")} values, batches of ${BATCH}; load ${loadavg()[0]!.toFixed(1)}`,
  );
  await compareMethods(server);
  await forwarder(server);
  console.log(`load average at the end: ${loadavg()[0]!.toFixed(1)}`);
} finally {
  await server.stop();
}
