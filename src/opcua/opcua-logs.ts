import { format } from "node:util";
import { setErrorLogger, setWarningLogger } from "node-opcua";
import type { Logger } from "../logger.js";

/** node-opcua prints with console.log; in a container that would break the JSON log stream. */
export function routeOpcuaLogs(logger: Logger): void {
  setWarningLogger((_context: unknown, ...args: unknown[]) => logger.warn(format(...args).trim()));
  setErrorLogger((_context: unknown, ...args: unknown[]) => logger.warn(format(...args).trim()));
}
