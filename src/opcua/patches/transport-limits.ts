import { adjustLimitsWithParameters } from "../../shared/node-opcua.js";

/** What a Hello announces and an Acknowledge answers (OPC UA Part 6 7.1.2.3, Tables 69 and 70). */
export interface TransportLimits {
  receiveBufferSize: number;
  sendBufferSize: number;
  maxMessageSize: number;
  maxChunkCount: number;
}

/** node-opcua 2.182's own bounds on a chunk (its defaultTransportParameters): 8 KiB to 512 KiB. */
const MIN_BUFFER = 8192;
const MAX_BUFFER = 512 * 1024;

/**
 * The Acknowledge for `hello`: node-opcua's own adjustment (buffers clamped to 8 KiB–512 KiB, 0
 * read as "no limit" and replaced by a bound), refined by `maxMessageSize` (opcua.limits) and by
 * Part 6 7.1.2.4 Table 70, which node-opcua 2.182 does not follow when the two buffers differ: the
 * server's ReceiveBufferSize shall not exceed the client's SendBufferSize, and its SendBufferSize
 * not the client's ReceiveBufferSize. node-opcua uses one MaxMessageSize and MaxChunkCount for both
 * directions, so they are also no larger than the client asked for its responses (Table 69). The
 * chunk count lets a message of maxMessageSize through in the smaller buffer's chunks, and no more:
 * a peer announcing 0xFFFFFFFF chunks must not make the gateway keep that many.
 */
export function negotiateTransportLimits(
  hello: Readonly<TransportLimits>,
  maxMessageSize: number,
): TransportLimits {
  const chunksAtMost = Math.ceil(maxMessageSize / MIN_BUFFER);
  // adjustLimitsWithParameters writes a derived maxChunkCount into the Hello it is given.
  const adjusted = adjustLimitsWithParameters(
    { ...hello },
    {
      minBufferSize: MIN_BUFFER,
      maxBufferSize: MAX_BUFFER,
      minMaxMessageSize: Math.min(128 * 1024, maxMessageSize),
      defaultMaxMessageSize: maxMessageSize,
      maxMaxMessageSize: maxMessageSize,
      minMaxChunkCount: 1,
      defaultMaxChunkCount: chunksAtMost,
      maxMaxChunkCount: chunksAtMost,
    },
  );
  // node-opcua clamps each of the client's buffers into the field of the same name; Table 70 pairs
  // them crosswise. A clamp of a Hello's buffer (at least 8 KiB, or node-opcua refuses the Hello
  // first) is never above it.
  const receiveBufferSize = adjusted.sendBufferSize;
  const sendBufferSize = adjusted.receiveBufferSize;
  const chunksNeeded = Math.ceil(adjusted.maxMessageSize / Math.min(receiveBufferSize, sendBufferSize));
  return {
    receiveBufferSize,
    sendBufferSize,
    maxMessageSize: adjusted.maxMessageSize,
    maxChunkCount: hello.maxChunkCount ? Math.min(adjusted.maxChunkCount, chunksNeeded) : chunksNeeded,
  };
}
