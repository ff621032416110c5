import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * Programs from outside npm that some tests start, with the package that brings them; everything
 * else the suite needs comes with `npm ci`. Found on PATH only (Debian puts mosquitto in
 * /usr/sbin, which a user's PATH may lack: the skip line says so), so that hiding a tool is as
 * simple as a PATH without it.
 */
const TOOLS = {
  mosquitto: { program: "mosquitto", install: "apt-get install -y mosquitto (and /usr/sbin on PATH)" },
  // The browser the web console's tests drive (playwright-core, from npm, brings no browser).
  chromium: { program: "chromium", install: "apt-get install -y chromium" },
} as const;
export type Tool = keyof typeof TOOLS;

declare module "@vitest/runner" {
  interface TaskMeta {
    /** The outside tool a test needs (set by `needs`): the summary reporter names what it skipped. */
    needs?: Tool;
  }
}

/** Set by CI (.ci/run): a missing tool fails its tests instead of skipping them. */
export const REQUIRE_TOOLS_VARIABLE = "GATEWAY_TEST_REQUIRE_TOOLS";

/** The path of the executable `program` on PATH, or undefined. */
function onPath(program: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter).filter(Boolean)) {
    const path = join(dir, program);
    try {
      accessSync(path, constants.X_OK);
      if (statSync(path).isFile()) return path;
    } catch {
      // Not in this folder, or not executable: look on.
    }
  }
  return undefined;
}

/** The command that installs `tool` (and puts its folder on PATH). */
export const installHint = (tool: Tool): string => TOOLS[tool].install;

/** Whether `tool` is missing on this machine. */
export const toolMissing = (tool: Tool): boolean => onPath(TOOLS[tool].program) === undefined;

/** The path of `tool`'s program, or an error that says how to install it. */
export function toolPath(tool: Tool): string {
  const path = onPath(TOOLS[tool].program);
  if (!path) throw new Error(`${TOOLS[tool].program} is not on PATH: ${installHint(tool)}; .ci/run does`);
  return path;
}

/**
 * Options for a `describe` or `it` that needs `tool`: skipped where it is missing, so that
 * `npm ci && npm test` passes on a machine with only Node.js and npm; run, and failing on the
 * missing tool, under GATEWAY_TEST_REQUIRE_TOOLS=1, so that CI runs everything.
 */
export function needs(tool: Tool): { skip: boolean; meta: { needs: Tool } } {
  return { skip: process.env[REQUIRE_TOOLS_VARIABLE] !== "1" && toolMissing(tool), meta: { needs: tool } };
}
