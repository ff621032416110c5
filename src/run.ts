import { checkSetup, loadSetup } from "./config/config-loader.js";
import { reloadConfig } from "./config-reload.js";
import { Gateway } from "./gateway.js";
import { configureLogging, getLogger } from "./logger.js";
import { missingRuntimeFlags } from "./runtime-flags.js";

/**
 * `smartgear-gateway run`: start, reload what can be reloaded on SIGHUP, stop cleanly on
 * SIGINT/SIGTERM. Resolves with the exit code.
 */
export async function runGateway(configFile: string): Promise<number> {
  const { config, catalog, users, commands } = loadSetup(configFile);
  configureLogging(config.log);
  const logger = getLogger("gateway");
  logger.info("configuration loaded", {
    config: configFile,
    catalog: catalog.file,
    points: catalog.points.length,
  });
  if (!config.opcua.allowAnonymous && users.length === 0)
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
  const gateway = new Gateway(config, catalog, users, commands);
  // Node ends a process on a SIGHUP it has no handler for: one during start-up (seconds with a
  // large lineup) is held and applied once the gateway runs.
  let started = false;
  let reloadHeld = false;
  const reload = () => {
    if (!started) {
      if (!reloadHeld)
        logger.info("reload requested during start-up: applied once started", { signal: "SIGHUP" });
      reloadHeld = true;
      return;
    }
    logger.info("reloading the configuration", { signal: "SIGHUP", config: configFile });
    try {
      reloadConfig(gateway, checkSetup(configFile), logger, configFile);
    } catch (err) {
      logger.error("configuration reload failed: the running configuration stays", {
        error: (err as Error).message,
      });
    }
  };
  process.on("SIGHUP", reload);
  try {
    await gateway.start();
  } catch (err) {
    process.off("SIGHUP", reload);
    logger.error("start-up failed", {
      error: (err as Error).message,
      cause: String((err as Error).cause ?? ""),
    });
    await gateway.stop().catch(() => {});
    return 3;
  }
  started = true;
  if (reloadHeld) reload();
  return new Promise((resolve) => {
    const shutdown = (signal: string) => {
      process.off("SIGHUP", reload);
      logger.info("shutting down", { signal });
      gateway.stop().then(
        () => resolve(0),
        (err: Error) => {
          logger.error("shutdown failed", { error: err.message });
          resolve(3);
        },
      );
    };
    process.once("SIGINT", () => shutdown("SIGINT"));
    process.once("SIGTERM", () => shutdown("SIGTERM"));
  });
}
