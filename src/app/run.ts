import { configureLogging, getLogger, type Logger } from "../shared/logger.js";
import type { Gateway } from "./gateway.js";
import { reloadConfig } from "./reload.js";
import { checkSetup, setupInThread, warnAboutSetup } from "./setup.js";

/**
 * `smartgear-gateway run`: start, reload what can be reloaded on SIGHUP, stop cleanly on
 * SIGINT/SIGTERM. Resolves with the exit code.
 */
export async function runGateway(configFile: string): Promise<number> {
  // Follows configureLogging below, like every logger.
  const logger = getLogger("gateway");
  // Node ends a process on a signal it has no handler for, so the handlers come first. A SIGHUP that
  // arrives while the gateway loads and starts (seconds with a large lineup) is held and applied
  // once it runs; a SIGINT/SIGTERM then (`docker stop` of a container still starting) is held too,
  // and stops the gateway as soon as it is up, cleanly: store flushed, MQTT session kept. A second
  // SIGINT/SIGTERM finds no handler and ends the process at once, as a second Ctrl-C should.
  let gateway: Gateway | null = null;
  let reloadHeld = false;
  let stopHeld: string | null = null;
  let stopping = false;
  const reload = () => {
    if (stopHeld || stopping) return;
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
  let stopped: (code: number) => void = () => {};
  const exitCode = new Promise<number>((resolve) => {
    stopped = resolve;
  });
  const shutdown = (signal: string) => {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigterm);
    if (!gateway) {
      logger.info("stop requested during start-up: stopping once started", { signal });
      stopHeld = signal;
      return;
    }
    stopping = true;
    logger.info("shutting down", { signal });
    gateway.stop().then(
      () => stopped(0),
      (err: Error) => {
        logger.error("shutdown failed", { error: err.message });
        stopped(3);
      },
    );
  };
  const onSigint = () => shutdown("SIGINT");
  const onSigterm = () => shutdown("SIGTERM");
  process.on("SIGHUP", reload);
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigterm);
  const detach = () => {
    process.off("SIGHUP", reload);
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigterm);
  };
  try {
    gateway = await startGateway(configFile, logger);
  } finally {
    // A gateway that did not start (invalid configuration, start-up failure) has nothing to reload.
    if (!gateway) detach();
  }
  if (!gateway) return 3;
  if (stopHeld) shutdown(stopHeld);
  else if (reloadHeld) reload();
  const code = await exitCode;
  detach();
  return code;
}

/**
 * Loads the configuration and starts the gateway; null when start-up failed (logged). Throws on
 * an invalid configuration, which the CLI reports.
 */
async function startGateway(configFile: string, logger: Logger): Promise<Gateway | null> {
  // The configuration is checked on a thread of its own while this one loads node-opcua (~1 s).
  const checked = setupInThread(configFile);
  // Awaited below: a configuration found invalid meanwhile is reported then, not as unhandled.
  checked.catch(() => {});
  const [{ Gateway }, { routeOpcuaLogs }] = await Promise.all([
    import("./gateway.js"),
    import("../opcua/patches/node-opcua-logs.js"),
  ]);
  // At once: node-opcua prints a few lines a moment after it is loaded, while the check goes on.
  routeOpcuaLogs(getLogger("gateway:node-opcua"));
  const setup = await checked;
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
