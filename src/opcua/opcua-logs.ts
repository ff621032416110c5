import { format, stripVTControlCharacters } from "node:util";
import { setErrorLogger, setWarningLogger } from "node-opcua";
import type { Logger } from "../shared/logger.js";
import { RateLimitedLog } from "../shared/rate-limited-log.js";

/**
 * node-opcua's warning that Node 20 disabled RSA PKCS#1 v1.5 decryption (CVE-2023-46809): only the
 * deprecated Basic128Rsa15 policy needs it, which the gateway never offers, so it is noise here.
 */
const IRRELEVANT = /NODE-OPCUA-W27|security-revert=CVE-2023-46809/;

/** Where node-opcua's lines go once routeOpcuaLogs ran; until then they are dropped. */
let route: (text: string) => void = () => {};

/**
 * node-opcua prints with console.log; in a container that would break the JSON log stream. Its
 * lines are warnings, at most 5 a minute of each kind (a kind: the line without its numbers,
 * addresses and ids), then one count of those suppressed: a peer can make it print one per
 * connection or per chunk (issue 15: 2,968 lines from 3,000 connections).
 */
export function routeOpcuaLogs(logger: Logger): void {
  const limited = new RateLimitedLog(logger);
  route = (text) => {
    if (IRRELEVANT.test(text)) logger.debug(text);
    else limited.warn(text.replace(/[0-9a-f]{6,}|\d+/gi, "#").slice(0, 80), text, {});
  };
  const fromNodeOpcua = (_context: unknown, ...args: unknown[]) => logNodeOpcuaLine(...args);
  setWarningLogger(fromNodeOpcua);
  setErrorLogger(fromNodeOpcua);
}

/** A line node-opcua would print with console.log (see patches/console-capture), logged as its warnings are. */
export function logNodeOpcuaLine(...args: unknown[]): void {
  // chalk colours some of them.
  route(stripVTControlCharacters(format(...args)).trim());
}
