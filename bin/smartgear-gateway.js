#!/usr/bin/env node
// The package's command (`npx smartgear-gateway …`). In a clone the TypeScript sources run through
// tsx, so that it works right after `npm ci` and never runs a stale build; where there are no
// sources (the container image, an installed package) it runs the compiled CLI in dist/.
import { existsSync } from "node:fs";

const sources = new URL("../src/cli.ts", import.meta.url);
if (existsSync(sources)) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(sources.href);
} else await import(new URL("../dist/src/cli.js", import.meta.url).href);
