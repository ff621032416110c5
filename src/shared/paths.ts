import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The project folder (the one holding package.json), whether running from src/ or dist/. */
export const PROJECT_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "config"))) return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find the project folder above ${start}`);
  }
}

export const DEFAULT_CATALOG_FILE = join(PROJECT_ROOT, "config", "catalog.yaml");
export const DEFAULT_COMMANDS_FILE = join(PROJECT_ROOT, "config", "commands.yaml");
export const DEFAULT_CONFIG_FILE = join(PROJECT_ROOT, "config", "gateway.yaml");
export const NODESET_FILE = join(PROJECT_ROOT, "nodeset", "SmartGear.NodeSet2.xml");
