import type { Socket } from "node:net";
import {
  packTcpMessage,
  ServerSecureChannelLayer,
  StatusCodes,
  TCPErrorMessage,
} from "../../shared/node-opcua.js";

/** Why a connection was closed before it had an activated session. */
export type PreSessionClosure = "timeout" | "bytes";

export interface PreSessionLimits {
  /** opcua.limits.preSessionTimeout: seconds from TCP connect to an activated session. */
  preSessionTimeout: number;
  /** opcua.limits.maxPreSessionBytes: bytes a connection may send before its session is activated. */
  maxPreSessionBytes: number;
}

/** Connections closed, by reason, since the process started (all servers of the process). */
export const preSessionClosures: Record<PreSessionClosure, number> = { timeout: 0, bytes: 0 };

let installed = false;
let limits: PreSessionLimits;
let report: (reason: PreSessionClosure, remote: string) => void = () => {};

interface Channel {
  sessionTokens: Record<string, { status: string }>;
}

const activated = (channel: Channel) =>
  Object.values(channel.sessionTokens).some((s) => s.status === "active");

/**
 * Bounds what a peer can make the gateway hold before it has authenticated, i.e. before one of its
 * channel's sessions is activated (ActivateSession, Part 4 5.7.3). node-opcua waits up to its
 * `timeout` (3 min) for a Hello and again for an OpenSecureChannel, and holds a message of up to
 * the negotiated MaxMessageSize (16 MiB) per connection while its chunks arrive; 50 connections
 * could make it hold 800 MiB. Here a connection is closed with an Error message
 * (BadTimeout or BadTcpNotEnoughResources) when it has no activated session `preSessionTimeout`
 * seconds after it connected, or when it sent more than `maxPreSessionBytes` before one (a Hello,
 * an OpenSecureChannel with a certificate chain, CreateSession and ActivateSession take a few KiB).
 * How many such connections exist at once node-opcua already bounds: at
 * opcua.limits.maxConnectionsPerEndpoint it closes the oldest channel without a session, as
 * Part 4 5.5.2 asks. Limits are per process: the last server created sets them.
 */
export function guardPreSession(
  next: PreSessionLimits,
  onClosed: (reason: PreSessionClosure, remote: string) => void,
): void {
  limits = next;
  report = onClosed;
  if (installed) return;
  installed = true;
  const proto = ServerSecureChannelLayer.prototype as unknown as {
    init(this: Channel, socket: Socket, callback: (err?: Error) => void): void;
  };
  const init = proto.init;
  proto.init = function (this: Channel, socket: Socket, callback: (err?: Error) => void) {
    init.call(this, socket, callback);
    const { preSessionTimeout, maxPreSessionBytes } = limits;
    let received = 0;
    const release = () => {
      clearTimeout(timer);
      socket.off("data", count);
      socket.off("close", release);
    };
    const close = (reason: PreSessionClosure) => {
      release();
      if (socket.destroyed) return;
      preSessionClosures[reason]++;
      report(reason, `${socket.remoteAddress}:${socket.remotePort}`);
      const status = reason === "timeout" ? StatusCodes.BadTimeout : StatusCodes.BadTcpNotEnoughResources;
      const why =
        reason === "timeout"
          ? `no activated session within ${preSessionTimeout} s`
          : `more than ${maxPreSessionBytes} bytes before an activated session`;
      // Nothing more is read; the Error message goes out, then the connection ends whatever the peer does.
      socket.pause();
      // An Error message (Part 6 7.1.2.5): the one thing a peer can read before security is established.
      socket.end(packTcpMessage("ERR", new TCPErrorMessage({ statusCode: status, reason: why })), () =>
        socket.destroy(),
      );
      setTimeout(() => socket.destroy(), 1000).unref();
    };
    // Added after node-opcua's own listener: it has the bytes of this event already, the overshoot
    // is one socket read (64 KiB at most).
    const count = (data: Buffer) => {
      received += data.length;
      if (received <= maxPreSessionBytes) return;
      if (activated(this)) release();
      else close("bytes");
    };
    const timer = setTimeout(
      () => (activated(this) ? release() : close("timeout")),
      preSessionTimeout * 1000,
    );
    timer.unref();
    socket.on("data", count);
    socket.once("close", release);
  };
}
