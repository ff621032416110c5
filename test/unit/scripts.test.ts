import { execFile } from "node:child_process";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../src/shared/paths.js";

/** Runs a script of scripts/ as `npm run` does (tsx), bounded; its exit code and output. */
function run(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", script, ...args],
      { cwd: PROJECT_ROOT, timeout: 60_000, encoding: "utf8" },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe.concurrent("the scripts' command lines", () => {
  it("npm run soak -- --list names the scenarios of scripts/soak/ (the runner beside them is none)", async () => {
    const { code, stdout, stderr } = await run("scripts/soak/main.ts", ["--list"]);
    expect(stderr).not.toMatch(/exports no/);
    expect(code).toBe(0);
    const names = stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(/\s+/)[0]);
    expect(names).toEqual(expect.arrayContaining(["broker-restart-sigterm", "flood", "fuzz", "network-cut"]));
  }, 90_000);

  it("npm run bench -- --help prints its usage and starts nothing", async () => {
    const { code, stdout } = await run("scripts/bench/main.ts", ["--help"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: npm run bench -- \[options\]\n/);
    expect(stdout).toContain("--skip-bare | --skip-gateway | --skip-memory");
  }, 90_000);

  it("npm run bench refuses a bad option with its reason and exit code 2, before starting anything", async () => {
    const cases: [string[], string][] = [
      [["--qos", "3"], "--qos must be one of 0, 1, not 3\n"],
      [["--warmup-seconds", "9"], "--warmup-seconds must be shorter than --step-seconds\n"],
    ];
    for (const [args, message] of cases)
      expect(await run("scripts/bench/main.ts", args)).toEqual({ code: 2, stdout: "", stderr: message });
    const notANumber = await run("scripts/bench/main.ts", ["--rates", "10,x"]);
    expect(notANumber.code).toBe(2);
    expect(notANumber.stderr).toMatch(/^--rates must be a positive number, not x\nUsage: npm run bench/);
  }, 90_000);
});
