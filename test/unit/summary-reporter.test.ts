import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../src/shared/paths.js";

/** PATH without the folders that hold mosquitto: the machine of a user who never installed it. */
const pathWithoutMosquitto = (process.env.PATH ?? "")
  .split(delimiter)
  .filter((dir) => !existsSync(join(dir, "mosquitto")))
  .join(delimiter);

/** Runs vitest on test/fixtures/reporter/ with the summary reporter only; its output. */
function runFixtures(env: Record<string, string>): Promise<string> {
  const { GATEWAY_TEST_REQUIRE_TOOLS: _, ...inherited } = process.env;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        join(PROJECT_ROOT, "node_modules/vitest/vitest.mjs"),
        "run",
        "--config",
        "test/fixtures/reporter/vitest.config.ts",
      ],
      {
        cwd: PROJECT_ROOT,
        timeout: 90_000,
        encoding: "utf8",
        env: { ...inherited, PATH: pathWithoutMosquitto, ...env },
      },
      (_err, stdout) => resolve(stdout),
    );
  });
}

describe.concurrent("the summary line at the end of a test run", () => {
  it("counts the tests of a file that did not load or whose beforeAll failed as failed, and names what a missing tool skipped", async () => {
    const out = await runFixtures({});
    // passes: 1 passed; import-error: 1 failed (the file); before-all-fails: 2 failed;
    // skipped: 1 skipped; needs-mosquitto: 2 skipped, and named.
    expect(out).toContain("\nTests: 1 passed, 3 failed, 3 skipped\n");
    expect(out).toContain(
      "\nSkipped, mosquitto not on PATH: test/fixtures/reporter/needs-mosquitto.fixture.ts (2). " +
        "Brought back by: apt-get install -y mosquitto (and /usr/sbin on PATH)\n",
    );
  }, 120_000);

  it("fails, not skips, the tests of a missing tool under GATEWAY_TEST_REQUIRE_TOOLS=1 (CI)", async () => {
    const out = await runFixtures({ GATEWAY_TEST_REQUIRE_TOOLS: "1" });
    expect(out).toContain("\nTests: 1 passed, 5 failed, 1 skipped\n");
    expect(out).not.toContain("Skipped, mosquitto");
  }, 120_000);
});
