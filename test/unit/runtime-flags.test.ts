import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../src/shared/paths.js";
import { missingRuntimeFlags, RUNTIME_FLAGS } from "../../src/shared/runtime-flags.js";

const read = (file: string) => readFileSync(join(PROJECT_ROOT, file), "utf8");

describe("the gateway's runtime flags", () => {
  it("are given by npm start and by the Docker image", () => {
    const pkg = JSON.parse(read("package.json")) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toContain(`node ${RUNTIME_FLAGS.join(" ")} dist/src/cli.js run`);
    expect(read("Dockerfile")).toMatch(new RegExp(`^\\s*NODE_OPTIONS=${RUNTIME_FLAGS.join(" ")}\\s`, "m"));
  });

  it("are found on the command line or in NODE_OPTIONS, and named when missing", () => {
    expect(missingRuntimeFlags([...RUNTIME_FLAGS], "")).toEqual([]);
    expect(missingRuntimeFlags([], `--enable-source-maps ${RUNTIME_FLAGS.join(" ")}`)).toEqual([]);
    expect(missingRuntimeFlags(["--expose-gc"], "--enable-source-maps")).toEqual([...RUNTIME_FLAGS]);
    // Another value is the site's choice, not an omission.
    expect(missingRuntimeFlags(["--max-semi-space-size=16"], "")).toEqual([]);
  });
});
