import { format, stripVTControlCharacters } from "node:util";
import type { Logger } from "../../shared/logger.js";
import { OPCUAServerEndPoint, setErrorLogger, setWarningLogger } from "../../shared/node-opcua.js";
import { RateLimitedLog } from "../../shared/rate-limited-log.js";

/**
 * The one router of node-opcua's own lines into the gateway's log: those it gives its warning and
 * error loggers, and those it prints with console.log where it has no logger to call.
 */

/**
 * node-opcua's warning that Node 20 disabled RSA PKCS#1 v1.5 decryption (CVE-2023-46809): only the
 * deprecated Basic128Rsa15 policy needs it, which the gateway never offers, so it is noise here.
 */
const IRRELEVANT = /NODE-OPCUA-W27|security-revert=CVE-2023-46809/;

/**
 * Where node-opcua's lines go once routeOpcuaLogs ran; until then they are dropped. Module state,
 * as node-opcua's loggers and console.log are the process's.
 */
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

/** A line node-opcua would print with console.log, logged as its warnings are. */
function logNodeOpcuaLine(...args: unknown[]): void {
  // chalk colours some of them.
  route(stripVTControlCharacters(format(...args)).trim());
}

/** Runs `fn` with console.log sent to the gateway's log; synchronous code only. */
function withConsoleRouted(fn: () => void): void {
  const log = console.log;
  console.log = logNodeOpcuaLine;
  try {
    fn();
  } finally {
    console.log = log;
  }
}

let refusalRouted = false;

/**
 * node-opcua 2.182 refuses a connection beyond maxConnectionsPerEndpoint with a plain console.log
 * ("The maximum number of connection has been reached - Connection is refused") from a closure of
 * OPCUAServerEndPoint._on_client_connection: under a connection flood, plain-text lines inside the
 * JSON log (issue 15: 1,467 of them). The refusal and the connection it may establish instead run
 * from _prevent_DDOS_Attack's two callbacks, so console.log is routed for them alone, through the
 * gateway's rate-limited node-opcua log. Keeps Part 4 5.5.2's rule (close the oldest channel
 * without a session first) as node-opcua implements it.
 */
export function routeRefusalConsoleLog(): void {
  if (refusalRouted) return;
  refusalRouted = true;
  const proto = OPCUAServerEndPoint.prototype as unknown as {
    _prevent_DDOS_Attack(establish: () => void, deny: () => void): void;
  };
  const prevent = proto._prevent_DDOS_Attack;
  proto._prevent_DDOS_Attack = function (establish: () => void, deny: () => void) {
    prevent.call(
      this,
      () => withConsoleRouted(establish),
      () => withConsoleRouted(deny),
    );
  };
}
