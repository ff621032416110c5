import type { NodeId, OPCUAServer } from "node-opcua";
import type { PointMirror } from "../bridge/point-mirror.js";
import type { CommandCounters, IngestCounters } from "../mapping/counters.js";
import type { BrokerLink } from "../mqtt/broker-link.js";
import { EmbeddedBroker } from "../mqtt/embedded-broker.js";
import { IngestThread } from "../mqtt/ingest-thread.js";
import type { ThreadBacklog } from "../mqtt/ingest-thread-protocol.js";
import { AttributeIds, DataValue, StatusCodes } from "../shared/node-opcua.js";

/**
 * What the gateway shows of itself, read-only: the figures of /metrics and Objects/SmartGear/Gateway
 * and a few more, for tests, scripts and diagnostics. Figures and reads only, never a handle to a
 * part: whoever needs more of the gateway asks it over MQTT or OPC UA, as a user does.
 */
export interface GatewayDiagnostics {
  /** The ingest totals (live; the same object as Gateway.counters). */
  readonly counters: Readonly<IngestCounters>;
  /** The command totals, null before the command path is built. */
  readonly commands: Readonly<CommandCounters> | null;
  readonly broker: {
    /** Which BrokerLink runs: the embedded broker, MQTT.js on the main thread, or on its own thread. */
    readonly link: "embedded" | "client" | "thread" | null;
    readonly connected: boolean;
    readonly protocol: string;
  };
  readonly devices: number;
  readonly points: number;
  /** Distinct unknown topics remembered to log each once (bounded: PointMirror). */
  readonly rememberedUnknownTopics: number;
  /** What waits between the MQTT thread and the main thread (mqtt.ingestThread); null without one. */
  threadBacklog(): Promise<ThreadBacklog | null>;
  /**
   * A node's attribute as an OPC UA Read answers it, in-process and without a session (node-opcua's
   * default context); BadNodeIdUnknown when there is no such node.
   */
  read(nodeId: NodeId, attributeId?: AttributeIds): DataValue;
}

/** The gateway's parts the view reads, each null before it is built or after stop(). */
export interface DiagnosedParts {
  counters: IngestCounters;
  commands: CommandCounters | null;
  source: BrokerLink | null;
  mirror: PointMirror | null;
  server: OPCUAServer | null;
}

/** The view of the parts as they are now (Gateway.diagnostics()): figures copied, reads live. */
export function diagnosticsOf({
  counters,
  commands,
  source,
  mirror,
  server,
}: DiagnosedParts): GatewayDiagnostics {
  return {
    counters,
    commands,
    broker: {
      link: !source
        ? null
        : source instanceof EmbeddedBroker
          ? "embedded"
          : source instanceof IngestThread
            ? "thread"
            : "client",
      connected: source?.connected ?? false,
      protocol: source?.protocol ?? "",
    },
    devices: mirror?.deviceCount ?? 0,
    points: mirror?.pointCount ?? 0,
    rememberedUnknownTopics: mirror?.rememberedUnknownTopics ?? 0,
    threadBacklog: async () => (source instanceof IngestThread ? source.backlog() : null),
    read(nodeId, attributeId = AttributeIds.Value) {
      const node = server?.engine.addressSpace?.findNode(nodeId);
      return node
        ? node.readAttribute(null, attributeId)
        : new DataValue({ statusCode: StatusCodes.BadNodeIdUnknown });
    },
  };
}
