import { configureLogging, getLogger, type Logger } from "../shared/logger.js";
import { Gateway } from "./gateway.js";
import { reloadConfig } from "./reload.js";
import { checkSetup, loadSetup, warnAboutSetup } from "./setup.js";

/**
 * `smartgear-gateway run`: start, reload what can be reloaded on SIGHUP, stop cleanly on
 * SIGINT/SIGTERM. Resolves with the exit code.
 */
export async function runGateway(configFile: string): Promise<number> {
  // Follows configureLogging below, like every logger.
  const logger = getLogger("gateway");
  // Node ends a process on a SIGHUP it has no handler for, so the handler comes first: one that
  // arrives while the gateway loads and starts (seconds with a large lineup) is held and applied
  // once it runs.
  let gateway: Gateway | null = null;
  let reloadHeld = false;
  const reload = () => {
    if (!gateway) {
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
    gateway = await startGateway(configFile, logger);
  } finally {
    // A gateway that did not start (invalid configuration, start-up failure) has nothing to reload.
    if (!gateway) process.off("SIGHUP", reload);
  }
  const running = gateway;
  if (!running) return 3;
  if (reloadHeld) reload();
  return new Promise((resolve) => {
    const shutdown = (signal: string) => {
      process.off("SIGHUP", reload);
      logger.info("shutting down", { signal });
      running.stop().then(
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

/**
 * Loads the configuration and starts the gateway; null when start-up failed (logged). Throws on
 * an invalid configuration, which the CLI reports.
 */
async function startGateway(configFile: string, logger: Logger): Promise<Gateway | null> {
  const setup = loadSetup(configFile);
  const { config, catalog, users, commands } = setup;
  configureLogging(config.log);
  logger.info("configuration loaded", {
    config: configFile,
    catalog: catalog.file,
    points: catalog.points.length,
  });
  warnAboutSetup(setup, logger);
  const gateway = new Gateway(config, catalog, users, commands);
  try {
    await gateway.start();
    return gateway;
  } catch (err) {
    logger.error("start-up failed", {
      error: (err as Error).message,
      cause: String((err as Error).cause ?? ""),
    });
    await gateway.stop().catch(() => {});
    return null;
  }
}
