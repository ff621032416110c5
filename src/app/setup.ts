import { checkConfigAgainstCatalog } from "../config/check-against-catalog.js";
import { buildConfig } from "../config/config-loader.js";
import type { GatewayConfig } from "../config/config-types.js";
import { checkCatalog } from "../model/catalog-loader.js";
import type { Catalog } from "../model/catalog-types.js";
import { checkCommands } from "../model/command-catalog-loader.js";
import type { CommandDef } from "../model/command-catalog-types.js";
import { checkUsers, type UserDef } from "../security/users.js";
import { deepFreeze } from "../shared/deep-freeze.js";
import { type Problem, ProblemsError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { missingRuntimeFlags } from "../shared/runtime-flags.js";
import { newWorker } from "../shared/worker-thread.js";
import { readYamlFile, type YamlSource } from "../shared/yaml-source.js";

/** Everything the gateway is started from, checked. */
export interface Setup {
  config: GatewayConfig;
  catalog: Catalog;
  users: UserDef[];
  commands: CommandDef[];
}

/**
 * A valid configuration (from a file, or YAML text a test or script wrote), its catalog, users
 * and commands, or every problem of them at once, each with its file and line.
 */
export function checkSetupSource(
  src: YamlSource,
  env: NodeJS.ProcessEnv = process.env,
): { setup?: Setup; problems: Problem[] } {
  const loaded = buildConfig(src, env);
  if (!loaded.config) return { problems: loaded.problems };
  const config = loaded.config;
  const { catalog, problems } = checkCatalog(config.catalog);
  const checkedUsers = config.opcua.usersFile
    ? checkUsers(config.opcua.usersFile)
    : { users: [], problems: [] };
  problems.push(...checkedUsers.problems);
  if (catalog) problems.push(...checkConfigAgainstCatalog(config, catalog, loaded.file, loaded.lineOf));
  const checkedCommands = catalog ? checkCommands(config.commands.file, catalog) : { problems: [] };
  problems.push(...checkedCommands.problems);
  if (!catalog || !checkedUsers.users || !checkedCommands.commands || problems.length > 0)
    return { problems };
  return {
    setup: { config, catalog, users: checkedUsers.users, commands: checkedCommands.commands },
    problems: [],
  };
}

/** checkSetupSource of a configuration file (`validate`, `run`, and each SIGHUP). */
export function checkSetup(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): { setup?: Setup; problems: Problem[] } {
  return checkSetupSource(readYamlFile(file), env);
}

/** Like checkSetup, but throws ProblemsError when anything is wrong (start-up fails fast). */
export function loadSetup(file: string, env: NodeJS.ProcessEnv = process.env): Setup {
  return setupOf(file, checkSetup(file, env));
}

/**
 * loadSetup on a thread of its own (app/setup-thread.ts), so that the caller can load what it starts
 * meanwhile. What comes back is a copy (structured clone): the configuration is frozen again, as
 * buildConfig froze it. A thread that cannot answer (an error, a value that does not clone) leaves
 * the check to this thread, which then reports what is wrong as loadSetup does.
 */
export function setupInThread(file: string): Promise<Setup> {
  return new Promise<{ setup?: Setup; problems: Problem[] } | null>((resolve) => {
    const worker = newWorker(import.meta.url, "setup-thread", { file });
    worker.once("message", resolve);
    worker.once("error", () => resolve(null));
    worker.once("exit", () => resolve(null));
  }).then((checked) => {
    if (!checked) return loadSetup(file);
    if (checked.setup) deepFreeze(checked.setup.config);
    return setupOf(file, checked);
  });
}

function setupOf(file: string, { setup, problems }: { setup?: Setup; problems: Problem[] }): Setup {
  if (!setup) throw new ProblemsError("E_CONFIG", `invalid configuration ${file}`, problems);
  return setup;
}

/** What a valid setup may still get wrong at run time: logged once at start, never refused. */
export function warnAboutSetup(setup: Setup, logger: Logger): void {
  if (!setup.config.opcua.allowAnonymous && setup.users.length === 0)
    logger.warn(
      "no users and anonymous access off: only sessions with a trusted X.509 user certificate can log in, with no role",
      {
        hint: "set opcua.usersFile or opcua.allowAnonymous",
      },
    );
  const missing = missingRuntimeFlags();
  if (missing.length > 0)
    logger.warn("node runs without the gateway's runtime flags: ingest costs more CPU at high rates", {
      missing,
      hint: `start it with node ${missing.join(" ")} (npm start and the Docker image do), or set NODE_OPTIONS`,
    });
}
