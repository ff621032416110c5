import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { build, stop } from "esbuild";
import type { TestProject } from "vitest/node";
import { PROJECT_ROOT } from "../../src/shared/paths.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The folder holding src/, scripts/ and test/harness/ compiled to JavaScript for this run. */
    compiledSources: string;
  }
}

const FOLDERS = ["src", "scripts", "test/harness"];

const typeScriptFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? typeScriptFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );

/**
 * vitest's globalSetup: the sources compiled once per run (esbuild, what tsx runs in each process,
 * 0.3 s for all), so that the gateway, CLI and simulator processes the tests start run JavaScript
 * (test/harness/compiled.ts) instead of loading tsx's loader and its cache each, ~0.4 s of CPU a
 * process. Inside node_modules/.cache, so that the sources' PROJECT_ROOT is still the project.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const cache = join(PROJECT_ROOT, "node_modules", ".cache");
  mkdirSync(cache, { recursive: true });
  const out = mkdtempSync(join(cache, "smartgear-test-build-"));
  await build({
    entryPoints: FOLDERS.flatMap((f) => typeScriptFiles(join(PROJECT_ROOT, f))),
    outdir: out,
    outbase: PROJECT_ROOT,
    format: "esm",
    platform: "node",
    target: "node20",
    logLevel: "error",
  });
  // esbuild's service process would otherwise stay, and ping, until vitest exits.
  await stop();
  project.provide("compiledSources", out);
  return () => rmSync(out, { recursive: true, force: true });
}
