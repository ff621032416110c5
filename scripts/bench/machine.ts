/** The machine and the code a run measured, as the results describe them. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../src/shared/paths.js";
import { RUNTIME_FLAGS } from "../../src/shared/runtime-flags.js";
import { machineCpuMs } from "./children.js";
import { round, sleep } from "./common.js";

export interface Machine {
  cpuModel: string;
  cores: number;
  totalMemoryGiB: number | null;
  kernel: string;
  node: string;
  /** Given to the gateway and to the bare subscriber (src/shared/runtime-flags.ts). */
  receiverNodeFlags: string[];
  packages: { "node-opcua": string; mqtt: string; aedes: string };
  /** Known once the broker runs. */
  broker: { kind: string; version: string };
  code: { commit: string; srcModified: boolean };
  /** Busy cores of the machine in the second before the bench started anything. */
  busyCoresBeforeStart?: number | null;
}

export function versionOf(pkg: string): string {
  try {
    const file = join(PROJECT_ROOT, "node_modules", pkg, "package.json");
    return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

/** The code measured: the commit, and whether src/ had uncommitted changes. */
function codeVersion(): { commit: string; srcModified: boolean } {
  try {
    // --no-optional-locks: reading the status must not rewrite the index under someone else's feet.
    const git = (...a: string[]) =>
      execFileSync("git", ["--no-optional-locks", ...a], { cwd: PROJECT_ROOT, encoding: "utf8" }).trim();
    return {
      commit: git("rev-parse", "HEAD"),
      srcModified: git("status", "--porcelain", "--", "src").length > 0,
    };
  } catch {
    return { commit: "unknown", srcModified: false };
  }
}

export function describeMachine(): Machine {
  return {
    cpuModel: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    totalMemoryGiB: round(totalmem() / 2 ** 30, 1),
    kernel: release(),
    node: process.version,
    receiverNodeFlags: [...RUNTIME_FLAGS],
    packages: { "node-opcua": versionOf("node-opcua"), mqtt: versionOf("mqtt"), aedes: versionOf("aedes") },
    broker: { kind: "", version: "" },
    code: codeVersion(),
  };
}

/** Busy cores of the machine over `ms`, before the bench starts anything. */
export async function busyCores(ms: number, cores: number): Promise<number | null> {
  const a = machineCpuMs();
  await sleep(ms);
  const b = machineCpuMs();
  return a && b ? ((b.busy - a.busy) / (b.total - a.total)) * cores : null;
}
