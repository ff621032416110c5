import { accessSync, constants, readdirSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * Programs from outside npm that some tests start, with the package that brings them; everything
 * else the suite needs comes with `npm ci`. Found on PATH (Debian puts mosquitto in /usr/sbin,
 * which a user's PATH may lack: the skip line says so), so that hiding a tool is as simple as a
 * PATH without it; PostgreSQL's server programs are never on PATH in Debian (they live in
 * /usr/lib/postgresql/<version>/bin, the newest version is taken), so also there.
 */
const TOOLS: Record<
  "mosquitto" | "postgres" | "chromium",
  { program: string; install: string; folders?: () => string[] }
> = {
  mosquitto: { program: "mosquitto", install: "apt-get install -y mosquitto (and /usr/sbin on PATH)" },
  postgres: { program: "postgres", install: "apt-get install -y postgresql", folders: debianPostgresFolders },
  // The browser the web console's tests drive (playwright-core, from npm, brings no browser).
  chromium: { program: "chromium", install: "apt-get install -y chromium" },
};
export type Tool = keyof typeof TOOLS;

/** /usr/lib/postgresql/<version>/bin, newest version first (the `postgresql` package's). */
function debianPostgresFolders(): string[] {
  try {
    return readdirSync("/usr/lib/postgresql")
      .filter((v) => /^[0-9]+$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => join("/usr/lib/postgresql", v, "bin"));
  } catch {
    return [];
  }
}

declare module "@vitest/runner" {
  interface TaskMeta {
    /** The outside tool a test needs (set by `needs`): the summary reporter names what it skipped. */
    needs?: Tool;
  }
}

/** Set by CI (.ci/run): a missing tool fails its tests instead of skipping them. */
export const REQUIRE_TOOLS_VARIABLE = "GATEWAY_TEST_REQUIRE_TOOLS";

/** The path of `tool`'s executable on PATH or in its own folders, or undefined. */
function find(tool: Tool): string | undefined {
  const { program, folders } = TOOLS[tool];
  for (const dir of [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), ...(folders?.() ?? [])]) {
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
export const toolMissing = (tool: Tool): boolean => find(tool) === undefined;

/** The path of `tool`'s program, or an error that says how to install it. */
export function toolPath(tool: Tool): string {
  const path = find(tool);
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
