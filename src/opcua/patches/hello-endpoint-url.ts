import type { Socket } from "node:net";
import { ServerTCP_transport, StatusCodes } from "../../shared/node-opcua.js";

/** Part 6 7.1.2.3, Table 69: the longest EndpointUrl a Hello may carry, in bytes. */
const MAX_ENDPOINT_URL = 4096;
/** A Hello is 32 bytes besides its EndpointUrl; a chunk of 8 KiB holds the longest one. */
const HELLO_CHUNK = 8192;

let installed = false;

type Callback = (err?: Error) => void;
interface Transport {
  receiveBufferSize: number;
  _abortWithError(status: typeof StatusCodes.Good, description: string, callback: Callback): void;
}

/**
 * Table 69: "Servers shall return a Bad_TcpEndpointUrlInvalid Error Message and close the
 * connection if the length exceeds 4 096". node-opcua 2.182 reads the Hello into a chunk of 4 KiB,
 * so a Hello with a legal EndpointUrl of 4,065 to 4,096 bytes, like one with a longer URL, is
 * refused with BadTcpMessageTooLarge. Here the Hello may take 8 KiB (what a peer can make the
 * gateway hold before it said Hello grows from 4 to 8 KiB), and a longer EndpointUrl gets the
 * status Table 69 names, through node-opcua's own refusal (an Error message after 1 s, then close).
 */
export function checkHelloEndpointUrl(): void {
  if (installed) return;
  installed = true;
  const proto = ServerTCP_transport.prototype as unknown as Transport & {
    init(this: Transport, socket: Socket, callback: Callback): void;
    _on_HEL_message(this: Transport, data: Buffer, callback: Callback): void;
  };
  const init = proto.init;
  proto.init = function (this: Transport, socket: Socket, callback: Callback) {
    this.receiveBufferSize = HELLO_CHUNK;
    init.call(this, socket, callback);
  };
  const onHello = proto._on_HEL_message;
  proto._on_HEL_message = function (this: Transport, data: Buffer, callback: Callback) {
    if (
      data.length >= 32 &&
      data.toString("ascii", 0, 3) === "HEL" &&
      data.readInt32LE(28) > MAX_ENDPOINT_URL
    )
      this._abortWithError(
        StatusCodes.BadTcpEndpointUrlInvalid,
        `EndpointUrl longer than ${MAX_ENDPOINT_URL} bytes`,
        callback,
      );
    else onHello.call(this, data, callback);
  };
}
