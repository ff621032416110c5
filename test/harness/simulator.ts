import { type ChildProcess, spawn } from "node:child_process";
import { PROJECT_ROOT } from "../../src/shared/paths.js";
import { compiled } from "./compiled.js";

/**
 * The lineup simulator as a user runs it (`npm run simulate -- …`, a child process, compiled:
 * test/harness/compiled.ts) with `args`;
 * stop() ends it with SIGTERM (SIGKILL after 5 s) and waits for its exit.
 */
export function startSimulator(
  args: string[],
): ChildProcess & { output: () => string; stop(): Promise<void> } {
  const child = spawn(process.execPath, compiled("scripts/simulator/main.ts", ...args), {
    cwd: PROJECT_ROOT,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let out = "";
  child.stderr?.on("data", (d) => {
    out += String(d);
  });
  return Object.assign(child, {
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const force = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(force);
    },
  });
}
