import { OPCUAServerEndPoint } from "node-opcua";
import { logNodeOpcuaLine } from "../opcua-logs.js";

let installed = false;

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
  if (installed) return;
  installed = true;
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
