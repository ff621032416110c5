import { format } from "node:util";
import { setErrorLogger, setWarningLogger } from "node-opcua";
import { loadSetup } from "./config/config-loader.js";
import { Gateway } from "./gateway.js";
import { configureLogging, getLogger, type Logger } from "./logger.js";

/** node-opcua prints with console.log; in a container that would break the JSON log stream. */
function routeOpcuaLogs(logger: Logger): void {
  setWarningLogger((_context: unknown, ...args: unknown[]) => logger.warn(format(...args).trim()));
  setErrorLogger((_context: unknown, ...args: unknown[]) => logger.error(format(...args).trim()));
}

/** `smartgear-gateway run`: start, then stop cleanly on SIGINT/SIGTERM. Resolves with the exit code. */
export async function runGateway(configFile: string): Promise<number> {
  const { config, catalog } = loadSetup(configFile);
  configureLogging(config.log);
  const logger = getLogger("gateway");
  routeOpcuaLogs(getLogger("gateway:node-opcua"));
  logger.info("configuration loaded", {
    config: configFile,
    catalog: catalog.file,
    points: catalog.points.length,
  });
  const gateway = new Gateway(config, catalog);
  try {
    await gateway.start();
  } catch (err) {
    logger.error("start-up failed", {
      error: (err as Error).message,
      cause: String((err as Error).cause ?? ""),
    });
    await gateway.stop().catch(() => {});
    return 3;
  }
  return new Promise((resolve) => {
    const shutdown = (signal: string) => {
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
