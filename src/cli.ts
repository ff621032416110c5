#!/usr/bin/env node
import { writeFileSync } from "node:fs";
import { format, parseArgs } from "node:util";
import { checkSetup } from "./config/config-loader.js";
import { formatProblem, ProblemsError } from "./errors.js";
import { pointRows, toCsv } from "./model/point-list.js";
import { DEFAULT_CONFIG_FILE } from "./paths.js";

const USAGE = `Usage: smartgear-gateway [command] [options]

Commands:
  run [--config FILE]                     run the gateway (the default command)
  points [--format csv|json] [--config FILE]
                                          print the point list for SCADA/PLC tag import
  nodeset [--out FILE] [--config FILE]    write the NodeSet2 XML of the Sm@rtGear information model
  validate [--config FILE]                check a gateway config and its catalog; exit 1 on any problem
  help                                    print this text

--config defaults to ${DEFAULT_CONFIG_FILE}.
Every config key can be overridden from the environment: opcua.port => SMARTGEAR_OPCUA_PORT.`;

/** Exit codes: 0 done, 1 invalid input (config, catalog), 2 usage error, 3 runtime failure. */
async function main(argv: string[]): Promise<number> {
  const command = argv[0] && !argv[0].startsWith("-") ? argv[0] : "run";
  const rest = command === argv[0] ? argv.slice(1) : argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: "string", short: "c", default: DEFAULT_CONFIG_FILE },
      format: { type: "string", default: "csv" },
      out: { type: "string", short: "o" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help || command === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  switch (command) {
    case "points":
      return points(values.config, values.format);
    case "nodeset":
      return nodeset(values.config, values.out);
    case "validate":
      return validate(values.config);
    case "run": {
      const { runGateway } = await import("./run.js");
      return runGateway(values.config);
    }
    default:
      process.stderr.write(`unknown command '${command}'\n${USAGE}\n`);
      return 2;
  }
}

/** The catalog named by the config (a config problem is reported, not guessed around). */
function catalogAndNamespace(configFile: string) {
  const { setup, problems } = checkSetup(configFile);
  if (!setup) throw new ProblemsError("E_CONFIG", `invalid configuration ${configFile}`, problems);
  return { catalog: setup.catalog, namespaceUri: setup.config.opcua.namespaceUri };
}

function points(configFile: string, format: string): number {
  if (format !== "csv" && format !== "json") {
    process.stderr.write(`--format must be csv or json, not '${format}'\n`);
    return 2;
  }
  const { catalog, namespaceUri } = catalogAndNamespace(configFile);
  const rows = pointRows(catalog, namespaceUri);
  process.stdout.write(format === "json" ? `${JSON.stringify(rows, null, 2)}\n` : toCsv(rows));
  return 0;
}

async function nodeset(configFile: string, out: string | undefined): Promise<number> {
  const { catalog } = catalogAndNamespace(configFile);
  const { exportNodeSet } = await import("./opcua/nodeset-export.js");
  if (!out) await opcuaLogsToStderr();
  const xml = await exportNodeSet(catalog);
  if (out) writeFileSync(out, xml);
  else process.stdout.write(xml);
  return 0;
}

/** node-opcua writes its warnings with console.log; where stdout carries data they would corrupt it. */
async function opcuaLogsToStderr(): Promise<void> {
  const { setErrorLogger, setWarningLogger } = await import("node-opcua");
  const toStderr = (_context?: unknown, ...args: unknown[]) => {
    process.stderr.write(`${format(...args)}\n`);
  };
  setWarningLogger(toStderr);
  setErrorLogger(toStderr);
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
    } else if (err instanceof Error && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`${err.message}\n${USAGE}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 3;
    }
  },
);
