import { join } from "node:path";
import { inject } from "vitest";

/**
 * The `node` arguments that run `file` (a TypeScript file of src/, scripts/ or test/harness/, named
 * from the project folder) as this test run compiled it once (test/harness/global-setup.ts), and
 * `args`.
 */
export const compiled = (file: string, ...args: string[]): string[] => [
  join(inject("compiledSources"), file.replace(/\.ts$/, ".js")),
  ...args,
];
