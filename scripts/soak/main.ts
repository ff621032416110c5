/**
 * `npm run soak`: the reliability scenarios of test/reliability/, longer and larger than in CI,
 * each printing the figures the README's Reliability table quotes.
 *
 *   npm run soak                      every scenario, full size
 *   npm run soak -- --quick           every scenario, CI size (a smoke run)
 *   npm run soak -- --only fuzz,flood some of them
 *   npm run soak -- --duration 300    time-based scenarios run 300 s each
 *   npm run soak -- --list            their names
 *
 * A registry, not a list: every module in scripts/soak/ holds scenarios. To add one, write
 * scripts/soak/<name>.ts exporting
 *
 *   export const scenario: SoakScenario = {
 *     name: "<name>",
 *     describe: "one line: what it does to the gateway",
 *     async run({ quick, log }) { …; return { "messages lost": 0, "RSS after (MB)": 212 }; },
 *   };
 *
 * (or `export const scenarios: SoakScenario[]` for several variants), with
 * `import type { SoakScenario } from "./main.js";`. run() injects its fault, asserts what it
 * must (throw on a broken promise: the soak run fails) and returns its figures (label ⇒ number or
 * text), printed in that order. It starts and stops what it needs (see test/reliability/*.ts for
 * gateway rigs); its size comes from `quick`, `durationS` (--duration, for time-based scenarios)
 * or its own environment variables (FUZZ_RUNS, FLOOD_NAMES).
 * Scenarios run one after another, sorted by name, in this one process.
 */

import { readdirSync } from "node:fs";
import { cpus } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { PROJECT_ROOT } from "../../src/shared/paths.js";

export type SoakFigures = Record<string, number | string>;

export interface SoakOptions {
  /** CI size instead of soak size. */
  quick: boolean;
  /** --duration: seconds for scenarios that run for a time; undefined leaves them their default. */
  durationS?: number;
  /** A progress line (to stderr, so that stdout is the figures). */
  log(line: string): void;
}

export interface SoakScenario {
  name: string;
  describe?: string;
  run(options: SoakOptions): Promise<SoakFigures>;
}

const SCENARIO_DIR = join(PROJECT_ROOT, "scripts", "soak");
const RUNNER = basename(fileURLToPath(import.meta.url));

async function loadScenarios(): Promise<SoakScenario[]> {
  const scenarios: SoakScenario[] = [];
  for (const file of readdirSync(SCENARIO_DIR).sort()) {
    // This runner lives beside its scenarios and holds none.
    if (!file.endsWith(".ts") || file === RUNNER) continue;
    const mod = (await import(pathToFileURL(join(SCENARIO_DIR, file)).href)) as {
      scenario?: SoakScenario;
      scenarios?: SoakScenario[];
    };
    const found = [...(mod.scenario ? [mod.scenario] : []), ...(mod.scenarios ?? [])];
    if (found.length === 0) throw new Error(`scripts/soak/${file} exports no \`scenario\` nor \`scenarios\``);
    scenarios.push(...found);
  }
  return scenarios.sort((a, b) => a.name.localeCompare(b.name));
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      list: { type: "boolean", default: false },
      duration: { type: "string" },
    },
  });
  const all = await loadScenarios();
  if (values.list) {
    for (const s of all) console.log(`${s.name.padEnd(24)} ${s.describe ?? ""}`);
    return 0;
  }
  const wanted = values.only?.split(",").map((s) => s.trim());
  const unknown = wanted?.filter((w) => !all.some((s) => s.name === w)) ?? [];
  if (unknown.length > 0) {
    console.error(`unknown scenario(s): ${unknown.join(", ")}; --list names them`);
    return 2;
  }
  const chosen = wanted ? all.filter((s) => wanted.includes(s.name)) : all;
  console.log(
    `soak ${values.quick ? "(quick) " : ""}on ${cpus().length} × ${cpus()[0]?.model.trim() ?? "?"}, Node ${process.version}`,
  );
  let failed = 0;
  for (const s of chosen) {
    console.log(`\n## ${s.name}${s.describe ? `: ${s.describe}` : ""}`);
    const started = performance.now();
    try {
      const figures = await s.run({
        quick: values.quick,
        ...(values.duration ? { durationS: Number(values.duration) } : {}),
        log: (line) => console.error(`  [${s.name}] ${line}`),
      });
      const width = Math.max(...Object.keys(figures).map((k) => k.length));
      for (const [label, value] of Object.entries(figures))
        console.log(
          `  ${label.padEnd(width)}  ${typeof value === "number" ? value.toLocaleString("en-US") : value}`,
        );
      console.log(`  ${"(took)".padEnd(width)}  ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } catch (err) {
      failed++;
      console.log(`  FAILED: ${(err as Error).stack ?? String(err)}`);
    }
  }
  console.log(failed ? `\n${failed} scenario(s) failed` : "\nall scenarios passed");
  return failed ? 1 : 0;
}

// Gateways leave node-opcua's timers behind after stop(): exit explicitly.
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
