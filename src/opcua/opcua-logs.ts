import { format } from "node:util";
import { setErrorLogger, setWarningLogger } from "node-opcua";
import type { Logger } from "../logger.js";

/**
 * node-opcua's warning that Node 20 disabled RSA PKCS#1 v1.5 decryption (CVE-2023-46809): only the
 * deprecated Basic128Rsa15 policy needs it, which the gateway never offers, so it is noise here.
 */
const IRRELEVANT = /NODE-OPCUA-W27|security-revert=CVE-2023-46809/;

/** node-opcua prints with console.log; in a container that would break the JSON log stream. */
export function routeOpcuaLogs(logger: Logger): void {
  const route = (_context: unknown, ...args: unknown[]) => {
    const text = format(...args).trim();
    if (IRRELEVANT.test(text)) logger.debug(text);
    else logger.warn(text);
  };
  setWarningLogger(route);
  setErrorLogger(route);
}
