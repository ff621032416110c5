import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../src/shared/paths.js";

/**
 * The dependency rule of the house (README, Development): entry → app → bridge → {mqtt, opcua,
 * http} → config → mapping → model → security → shared. A folder imports only from its own folder
 * and the tiers below it; the adapters of one tier never import each other.
 */
const TIERS: readonly (readonly string[])[] = [
  ["entry"],
  ["app"],
  ["bridge"],
  ["mqtt", "opcua", "http", "history"],
  ["config"],
  ["mapping"],
  ["model"],
  ["security"],
  ["shared"],
];
const tierOf = new Map(TIERS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** Relative specifiers of static imports, re-exports and dynamic imports. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)["'](\.{1,2}\/[^"']+)["']/gm)].map(
    (m) => m[1] as string,
  );
}

/** The room of a file: its first folder under src/, or "entry" for a file directly in src/. */
function roomOf(root: string, file: string): string {
  const parts = relative(join(root, "src"), file).split("/");
  return parts.length === 1 ? "entry" : (parts[0] as string);
}

function violations(root: string): string[] {
  const found: string[] = [];
  for (const file of filesUnder(join(root, "src"))) {
    const from = roomOf(root, file);
    for (const spec of importsOf(file)) {
      const target = resolve(dirname(file), spec);
      const where = relative(join(root, "src"), target);
      const name = relative(root, file);
      if (where.startsWith("..")) {
        found.push(`${name} imports ${spec}: outside src/`);
        continue;
      }
      const to = roomOf(root, target);
      if (to === from) continue;
      const a = tierOf.get(from);
      const b = tierOf.get(to);
      if (a === undefined || b === undefined)
        found.push(`${name}: folder ${a === undefined ? from : to} has no tier`);
      else if (b <= a)
        found.push(`${name} (${from}) imports ${spec} (${to}): ${b === a ? "a peer" : "a layer above"}`);
    }
  }
  return found;
}

describe("the dependency rule", () => {
  it("holds in src/: every import points down the tiers", () => {
    expect(violations(PROJECT_ROOT)).toEqual([]);
  });

  it("names an import up the tiers, between peers, and out of src/", () => {
    const root = mkdtempSync(join(tmpdir(), "smartgear-deps-"));
    try {
      const write = (file: string, text: string) => {
        mkdirSync(dirname(join(root, file)), { recursive: true });
        writeFileSync(join(root, file), text);
      };
      write("src/opcua/ports.ts", 'import { PointMirror } from "../bridge/point-mirror.js";\n');
      write("src/mqtt/link.ts", 'export { x } from "../opcua/ports.js";\n');
      write("src/shared/log.ts", 'const m = await import("../../scripts/x.js");\n');
      write(
        "src/bridge/point-mirror.ts",
        'import { a } from "../mapping/topic.js";\nimport { b } from "./own.js";\n',
      );
      expect(violations(root).sort()).toEqual([
        "src/mqtt/link.ts (mqtt) imports ../opcua/ports.js (opcua): a peer",
        "src/opcua/ports.ts (opcua) imports ../bridge/point-mirror.js (bridge): a layer above",
        "src/shared/log.ts imports ../../scripts/x.js: outside src/",
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("scripts/ reach test/ only through test/harness/", () => {
    const bad = filesUnder(join(PROJECT_ROOT, "scripts")).flatMap((file) =>
      importsOf(file)
        .map((spec) => relative(PROJECT_ROOT, resolve(dirname(file), spec)))
        .filter((p) => p.startsWith("test/") && !p.startsWith("test/harness/"))
        .map((p) => `${relative(PROJECT_ROOT, file)} imports ${p}`),
    );
    expect(bad).toEqual([]);
  });

  it("src/ imports node-opcua's values only through src/shared/node-opcua.ts (its types as usual)", () => {
    // An ES import of the CommonJS package costs every start ~0.3 s of lexing (see that module).
    const valueImport =
      /^import\s+(?!type\b)[^;]*?\bfrom\s*"node-opcua(?:-[a-z-]+)?(?:\/[^"]*)?";|\bimport\(\s*"node-opcua/ms;
    const bad = filesUnder(join(PROJECT_ROOT, "src"))
      .filter((file) => relative(PROJECT_ROOT, file) !== "src/shared/node-opcua.ts")
      .filter((file) => valueImport.test(readFileSync(file, "utf8")))
      .map((file) => relative(PROJECT_ROOT, file));
    expect(bad).toEqual([]);
  });
});
