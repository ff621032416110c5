import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import pg from "pg";
import { freePort } from "./brokers.js";
import { toolPath } from "./tools.js";

export interface TestPostgres {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /**
   * Stops the server, its data kept: `fast` (open connections cut, transactions rolled back, a
   * clean checkpoint) or `immediate` (as a crash: recovery from the WAL at the next start).
   */
  pause(how?: "fast" | "immediate"): Promise<void>;
  /** Starts it again on the same port and data. */
  resume(): Promise<void>;
  /** One query on a connection of its own. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

/**
 * A real PostgreSQL (Debian's `postgresql` package) in a temp folder: initdb, then `postgres` on a
 * free loopback port with its unix socket in the same folder, password login over TCP. Tests take
 * `needs("postgres")` (harness/tools.ts). initdb and postgres refuse to run as root, as the
 * machines and CI run: as root, the folder is given to the `postgres` user (the package makes it)
 * and both programs run as that user through `setpriv`, which execs (no child in between, so the
 * process the test signals is postgres itself).
 */
export async function startPostgres(
  options: {
    /** PEM files of the server's certificate and key: TLS on (`ssl = on`), still optional for clients. */
    tls?: { cert: string; key: string };
  } = {},
): Promise<TestPostgres> {
  const bin = dirname(toolPath("postgres"));
  const root = mkdtempSync(join(tmpdir(), "smartgear-postgres-"));
  const data = join(root, "data");
  const user = "gateway";
  const password = "pg-test-password";
  const owner = process.getuid?.() === 0 ? postgresUser() : null;
  /** What the test makes in the folder belongs to the user the server runs as. */
  const give = (path: string) => owner && chownSync(path, owner.uid, owner.gid);
  const run = (program: string, args: string[]) =>
    owner
      ? {
          file: "setpriv",
          args: [
            `--reuid=${owner.uid}`,
            `--regid=${owner.gid}`,
            "--clear-groups",
            "--",
            join(bin, program),
            ...args,
          ],
        }
      : { file: join(bin, program), args };
  give(root);
  const pwfile = join(root, "pwfile");
  writeFileSync(pwfile, password);
  give(pwfile);
  const initdb = run("initdb", [
    "-D",
    data,
    "-U",
    user,
    `--pwfile=${pwfile}`,
    "--auth-local=trust",
    "--auth-host=scram-sha-256",
    "--no-sync",
    "--encoding=UTF8",
    "--locale=C",
  ]);
  execFileSync(initdb.file, initdb.args, { stdio: "pipe" });
  const port = await freePort();
  const sockets = join(root, "sockets");
  mkdirSync(sockets);
  give(sockets);
  const tlsSettings: string[] = [];
  if (options.tls) {
    // PostgreSQL refuses a key that others than its owner can read.
    const cert = join(root, "server.crt");
    const key = join(root, "server.key");
    copyFileSync(options.tls.cert, cert);
    copyFileSync(options.tls.key, key);
    chmodSync(key, 0o600);
    give(cert);
    give(key);
    tlsSettings.push("-c", "ssl=on", "-c", `ssl_cert_file=${cert}`, "-c", `ssl_key_file=${key}`);
  }
  let proc: ChildProcess | null = null;
  const start = async () => {
    // fsync off: a test's server never outlives the machine; a killed server still keeps what
    // it committed (the OS has it), which is what a restart test looks at.
    const cmd = run("postgres", [
      "-D",
      data,
      "-p",
      String(port),
      "-k",
      sockets,
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "fsync=off",
      "-c",
      "max_connections=20",
      ...tlsSettings,
    ]);
    const child = spawn(cmd.file, cmd.args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (d) => {
      stderr += String(d);
    });
    proc = child;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`postgres exited: ${stderr}`);
      try {
        const c = new pg.Client({ host: "127.0.0.1", port, user, password, database: "postgres" });
        await c.connect();
        await c.end();
        return;
      } catch {
        if (Date.now() > deadline)
          throw new Error(`postgres did not accept connections within 30 s: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const halt = async (how: "fast" | "immediate" = "fast") => {
    const child = proc;
    proc = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    // PostgreSQL's shutdown modes by signal: SIGINT fast, SIGQUIT immediate; a wedged one is killed.
    child.kill(how === "fast" ? "SIGINT" : "SIGQUIT");
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await start();
  } catch (err) {
    await halt();
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  const query = async <R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]> => {
    const c = new pg.Client({ host: "127.0.0.1", port, user, password, database: "postgres" });
    await c.connect();
    try {
      return (await c.query<R>(sql, params)).rows;
    } finally {
      await c.end();
    }
  };
  return {
    host: "127.0.0.1",
    port,
    database: "postgres",
    user,
    password,
    pause: halt,
    resume: start,
    query,
    async stop() {
      await halt();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The `postgres` user that Debian's package makes. */
function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g") };
}
