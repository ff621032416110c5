#!/usr/bin/env node
import { writeFileSync } from "node:fs";
import { format, parseArgs } from "node:util";
import { checkSetup, loadSetup } from "./app/setup.js";
import { checkConfig } from "./config/config-loader.js";
import type { GatewayConfig } from "./config/config-types.js";
import { groupShards, shardOverlaps } from "./config/shards.js";
import { exportLines, HistoryReport, type StoreStats } from "./history/history-report.js";
import { pointRows, toCsv } from "./model/point-list.js";
import { didYouMean } from "./shared/did-you-mean.js";
import { formatProblem, GatewayError, ProblemsError } from "./shared/errors.js";
import { DEFAULT_CONFIG_FILE } from "./shared/paths.js";

const USAGE = `Usage: smartgear-gateway [command] [options]

Commands:
  run [--config FILE]                     run the gateway (the default command)
  points [--format csv|json] [--config FILE]
                                          print the point list for SCADA/PLC tag import
  nodeset [--out FILE] [--config FILE]    write the NodeSet2 XML of the Sm@rtGear information model
  validate [--config FILE]                check a gateway config, its catalog and users; exit 1 on any problem
  shards FILE FILE...                     validate the configs of a sharded site, and that no topic matches two shards
  history export --point TOPIC --from TIME --to TIME [--format csv|json] [--config FILE]
                                          print a point's stored values with a source time in [from, to)
                                          (ISO 8601 times, e.g. 2026-11-29T08:00:00Z)
  history stats [--format text|json] [--config FILE]
                                          points, values, their time span and bytes of the history store
  hash-password                           read a password on stdin, print its salted hash for a users file
  pki list [--users] [--config FILE]      list trusted, rejected and issuer certificates of the OPC UA PKI
  pki trust THUMBPRINT|FILE [--users]     trust a rejected certificate (thumbprint prefix) or a certificate file
  pki reject THUMBPRINT [--users]         withdraw trust from a certificate
  pki crl FILE [--users]                  install a trusted CA's certificate revocation list
  help                                    print this text

--config defaults to ${DEFAULT_CONFIG_FILE}.
Every config key can be overridden from the environment: opcua.port => SMARTGEAR_OPCUA_PORT.`;

/** Exit codes: 0 done, 1 invalid input (config, catalog), 2 usage error, 3 runtime failure. */
async function main(argv: string[]): Promise<number> {
  const command = argv[0] && !argv[0].startsWith("-") ? argv[0] : "run";
  const rest = command === argv[0] ? argv.slice(1) : argv;
  const { values, positionals } = parseOptions(rest);
  /** Refuses arguments beyond what `what` (a command, with what it took) takes. */
  const noMore = (extra: string[], what: string) => {
    if (extra.length > 0) throw new UsageError(`${what} takes no further argument, not '${extra.join(" ")}'`);
  };
  if (values.help || command === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  switch (command) {
    case "points":
      return points(values.config, values.format ?? "csv");
    case "nodeset":
      return nodeset(values.config, values.out);
    case "validate":
      noMore(positionals, command);
      return validate(values.config);
    case "shards":
      if (positionals.length < 2)
        throw new UsageError("shards needs the config FILEs of every member of the site");
      return shards(positionals);
    case "hash-password":
      noMore(positionals, command);
      return hashPasswordFromStdin();
    case "pki": {
      const [action, target, ...extra] = positionals;
      if (action === undefined) throw new UsageError("pki needs an action: list, trust, reject or crl");
      if (action === "list") noMore(positionals.slice(1), "pki list");
      else if (action in PKI_TARGETS) {
        const wanted = PKI_TARGETS[action as keyof typeof PKI_TARGETS];
        if (target === undefined) throw new UsageError(`pki ${action} needs ${wanted}`);
        noMore(extra, `pki ${action} ${target}`);
      }
      return pki(values.config, values.users, action, target);
    }
    case "history": {
      const [action, ...extra] = positionals;
      if (action !== "export" && action !== "stats")
        throw new UsageError(
          action === undefined
            ? "history needs an action: export or stats"
            : `history takes export or stats, not '${action}'`,
        );
      noMore(extra, `history ${action}`);
      return action === "export"
        ? historyExport(values)
        : historyStats(values.config, values.format ?? "text");
    }
    case "run": {
      const { runGateway } = await import("./app/run.js");
      return runGateway(values.config);
    }
    default:
      process.stderr.write(`unknown command '${command}'\n${USAGE}\n`);
      return 2;
  }
}

class UsageError extends Error {}

const OPTIONS = {
  config: { type: "string", short: "c", default: DEFAULT_CONFIG_FILE },
  // Each command has its own default: csv for points and history export, text for history stats.
  format: { type: "string" },
  point: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  out: { type: "string", short: "o" },
  users: { type: "boolean", default: false },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * The options and arguments of a command. node:util's refusal of an unknown option tells how to
 * pass an argument that starts with '-'; a user who mistyped an option needs its name instead.
 */
function parseOptions(args: string[]) {
  try {
    return parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    const unknown = /^Unknown option '([^']+)'/.exec((err as Error).message)?.[1];
    if (!unknown) throw err;
    const known = Object.keys(OPTIONS).map((o) => `--${o}`);
    throw new UsageError(`unknown option ${unknown}${didYouMean(unknown, known, "")}`);
  }
}

/** What each `pki` action that takes an argument needs. */
const PKI_TARGETS = { trust: "a THUMBPRINT or FILE", reject: "a THUMBPRINT", crl: "a FILE" } as const;

async function hashPasswordFromStdin(): Promise<number> {
  if (process.stdin.isTTY) process.stderr.write("password (end with Enter): ");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    if (process.stdin.isTTY && String(chunk).includes("\n")) break;
  }
  const password = Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
  if (password.length === 0) {
    process.stderr.write("an empty password is refused\n");
    return 1;
  }
  const { hashPassword } = await import("./security/password-hash.js");
  process.stdout.write(`${hashPassword(password)}\n`);
  return 0;
}

async function pki(
  configFile: string,
  users: boolean,
  action: string,
  target: string | undefined,
): Promise<number> {
  const { config, problems } = checkConfig(configFile);
  if (!config) throw new ProblemsError("E_CONFIG", `invalid configuration ${configFile}`, problems);
  const { pkiFolders } = await import("./opcua/pki-folders.js");
  const { PkiStore } = await import("./security/pki-store.js");
  const folders = pkiFolders(config);
  const store = new PkiStore(users ? folders.users : folders.applications);
  const show = (e: {
    list: string;
    thumbprint: string;
    subject: string;
    applicationUri: string;
    validTo: string;
  }) =>
    `${e.list.padEnd(8)} ${e.thumbprint}  ${e.subject}${e.applicationUri ? `  ${e.applicationUri}` : ""}  valid to ${e.validTo}`;
  switch (action) {
    case "list":
      for (const e of store.list()) process.stdout.write(`${show(e)}\n`);
      return 0;
    case "trust":
      process.stdout.write(`trusted: ${show(store.trust(target!))}\n`);
      return 0;
    case "reject":
      process.stdout.write(`rejected: ${show(store.reject(target!))}\n`);
      return 0;
    case "crl": {
      const crl = store.addCrl(target!);
      process.stdout.write(`crl: ${crl.issuer}  ${crl.revoked} revoked  ${crl.file}\n`);
      return 0;
    }
    default:
      throw new UsageError(`pki takes list, trust, reject or crl, not '${action}'`);
  }
}

function points(configFile: string, format: string): number {
  if (format !== "csv" && format !== "json") {
    process.stderr.write(`--format must be csv or json, not '${format}'\n`);
    return 2;
  }
  // The catalog named by the config: a config problem is reported, not guessed around.
  const { catalog, config } = loadSetup(configFile);
  const rows = pointRows(catalog, config.opcua.namespaceUri);
  process.stdout.write(format === "json" ? `${JSON.stringify(rows, null, 2)}\n` : toCsv(rows));
  return 0;
}

async function nodeset(configFile: string, out: string | undefined): Promise<number> {
  const { catalog } = loadSetup(configFile);
  const { exportNodeSet } = await import("./opcua/nodeset-export.js");
  if (!out) await opcuaLogsToStderr();
  const xml = await exportNodeSet(catalog);
  if (out) writeFileSync(out, xml);
  else process.stdout.write(xml);
  return 0;
}

/** node-opcua writes its warnings with console.log; where stdout carries data they would corrupt it. */
async function opcuaLogsToStderr(): Promise<void> {
  const { setErrorLogger, setWarningLogger } = await import("./shared/node-opcua.js");
  const toStderr = (_context?: unknown, ...args: unknown[]) => {
    process.stderr.write(`${format(...args)}\n`);
  };
  setWarningLogger(toStderr);
  setErrorLogger(toStderr);
}

/** An ISO 8601 time as epoch ms: a date, or a date and time; without a zone, UTC (Date.parse would take local time). */
function isoTime(option: string, text: string): number {
  const zoned = !text.includes("T") || /(Z|[+-]\d{2}:?\d{2})$/i.test(text) ? text : `${text}Z`;
  const t = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(zoned) : Number.NaN;
  if (Number.isNaN(t))
    throw new UsageError(`--${option} must be an ISO 8601 time such as 2026-11-29T08:00:00Z, not '${text}'`);
  return t;
}

/** `history export`: the store read-only, so that it works beside a running gateway. */
async function historyExport(values: {
  config: string;
  point?: string;
  from?: string;
  to?: string;
  format?: string;
}) {
  const missing = (["point", "from", "to"] as const)
    .filter((o) => values[o] === undefined)
    .map((o) => `--${o}`);
  if (missing.length > 0) throw new UsageError(`history export needs ${missing.join(", ")}`);
  const format = values.format ?? "csv";
  if (format !== "csv" && format !== "json")
    throw new UsageError(`--format must be csv or json, not '${format}'`);
  const from = isoTime("from", values.from!);
  const to = isoTime("to", values.to!);
  if (from >= to) throw new UsageError(`--from must be before --to`);
  const report = await openHistory(values.config);
  try {
    for (const line of exportLines(report.records(values.point!, from, to), format))
      if (!process.stdout.write(line)) await new Promise((r) => process.stdout.once("drain", r));
  } finally {
    report.close();
  }
  return 0;
}

async function historyStats(configFile: string, format: string): Promise<number> {
  if (format !== "text" && format !== "json")
    throw new UsageError(`--format must be text or json, not '${format}'`);
  const report = await openHistory(configFile);
  let stats: StoreStats;
  try {
    stats = report.stats();
  } finally {
    report.close();
  }
  if (format === "json") {
    process.stdout.write(`${JSON.stringify(stats, null, 2)}\n`);
    return 0;
  }
  const time = (t: number | null) => (t === null ? "-" : new Date(t).toISOString());
  const rows = [
    ["store", stats.file],
    ["bytes", String(stats.bytes)],
    ["points", String(stats.points)],
    ["values", String(stats.values)],
    ["oldest", time(stats.oldest)],
    ["newest", time(stats.newest)],
  ];
  for (const [k, v] of rows) process.stdout.write(`${k!.padEnd(8)} ${v}\n`);
  process.stdout.write("family   points   values\n");
  for (const f of stats.families)
    process.stdout.write(`${f.family.padEnd(8)} ${String(f.points).padStart(6)}   ${f.values}\n`);
  return 0;
}

/** The store of the config's history.folder; an invalid config is reported as `validate` would. */
async function openHistory(configFile: string): Promise<HistoryReport> {
  const { config, problems } = checkConfig(configFile);
  if (!config) throw new ProblemsError("E_CONFIG", `invalid configuration ${configFile}`, problems);
  return HistoryReport.open(config.history.folder);
}

function validate(configFile: string): number {
  const { setup, problems } = checkSetup(configFile);
  if (!setup) {
    for (const p of problems) process.stderr.write(`${formatProblem(p)}\n`);
    process.stderr.write(`${problems.length} problem(s)\n`);
    return 1;
  }
  process.stdout.write(
    `ok: ${configFile}, catalog ${setup.catalog.file} (${setup.catalog.points.length} points)\n`,
  );
  return 0;
}

/**
 * The site's members grouped into shards (same mqtt.subscriptions); exit 1 when a config is invalid
 * or filters of two shards overlap.
 */
function shards(files: string[]): number {
  const members: { file: string; config: GatewayConfig }[] = [];
  let invalid = 0;
  for (const file of files) {
    const { setup, problems } = checkSetup(file);
    for (const p of problems) process.stderr.write(`${formatProblem(p)}\n`);
    if (setup) members.push({ file, config: setup.config });
    else invalid++;
  }
  const found = groupShards(members);
  for (const [i, shard] of found.entries())
    process.stdout.write(`shard ${i + 1}: ${shard.filters.join(" ")} (${shard.files.join(", ")})\n`);
  const overlaps = shardOverlaps(found);
  for (const o of overlaps) process.stderr.write(`${o}: a device there would be mirrored by both shards\n`);
  if (invalid > 0 || overlaps.length > 0) {
    process.stderr.write(`${invalid} invalid config(s), ${overlaps.length} overlap(s)\n`);
    return 1;
  }
  process.stdout.write(`ok: ${found.length} shard(s), no topic matches two of them\n`);
  return 0;
}

// A closed pipe (`points | head`) ends the output, it is not a failure.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

// Only here does the process exit; everything else returns or throws.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ProblemsError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 1;
    } else if (err instanceof GatewayError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 1;
    } else if (
      err instanceof UsageError ||
      (err instanceof Error && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS"))
    ) {
      process.stderr.write(`${err.message}\n${USAGE}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 3;
    }
  },
);
