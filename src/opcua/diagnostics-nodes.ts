import type { INamespace, UAObject } from "node-opcua";
import type { CommandCounters } from "../mapping/counters.js";
import { BROKER_REFUSALS, type IngestCounters, REJECT_REASONS } from "../mapping/counters.js";
import { DataType, Variant, VariantArrayType } from "../shared/node-opcua.js";
import { browseNameOf, stringNodeId } from "./node-ids.js";
import type { DeviceActivity } from "./ports.js";

/** What the diagnostics read; getters, so the ingest path never pays for diagnostics. */
export interface DiagnosticsSource {
  counters: IngestCounters;
  commands: CommandCounters;
  brokerConnected(): boolean;
  brokerProtocol(): string;
  deviceCount(): number;
  pointCount(): number;
}

/** Counters are UInt64: at 50,000 messages/s a UInt32 wraps within a day. */
function uint64(n: number): Variant {
  return new Variant({
    dataType: DataType.UInt64,
    arrayType: VariantArrayType.Scalar,
    value: [Math.floor(n / 0x1_0000_0000), n >>> 0],
  });
}

/**
 * Objects/SmartGear/Gateway: broker state, message counters (rejected ones by reason), devices,
 * points, and per device its last-seen time and message count. Values are read on demand.
 */
export class DiagnosticsNodes {
  private devicesFolder: UAObject | null = null;

  constructor(
    private readonly ns: INamespace,
    private readonly parent: UAObject,
    private readonly source: DiagnosticsSource,
  ) {}

  build(): void {
    const gateway = this.ns.addFolder(this.parent, {
      nodeId: "s=Gateway",
      browseName: "Gateway",
      description: "Diagnostics of the Sm@rtGear gateway",
    });
    const c = this.source.counters;
    this.add(gateway, "Gateway", "BrokerConnected", DataType.Boolean, () => this.source.brokerConnected());
    this.add(gateway, "Gateway", "BrokerProtocol", DataType.String, () => this.source.brokerProtocol());
    this.addCounter(gateway, "Gateway", "MessagesReceived", () => c.received);
    this.addCounter(gateway, "Gateway", "MessagesDecoded", () => c.decoded);
    this.addCounter(gateway, "Gateway", "MessagesRejected", () => c.rejected);
    this.addCounter(gateway, "Gateway", "UnknownTopics", () => c.unknownTopics);
    this.addCounter(gateway, "Gateway", "BrokerReconnects", () => c.brokerReconnects);
    this.addCounter(gateway, "Gateway", "SubscriptionRefusals", () => c.subscriptionRefusals);
    this.addCounter(gateway, "Gateway", "SessionTakeovers", () => c.sessionTakeovers);
    this.add(gateway, "Gateway", "DeviceCount", DataType.UInt32, () => this.source.deviceCount());
    this.add(gateway, "Gateway", "PointCount", DataType.UInt32, () => this.source.pointCount());
    const rejected = this.ns.addFolder(gateway, { nodeId: "s=Gateway/RejectedBy", browseName: "RejectedBy" });
    for (const reason of REJECT_REASONS) {
      this.addCounter(
        rejected,
        "Gateway/RejectedBy",
        upperFirst(reason),
        () => c.rejectedBy.get(reason) ?? 0,
      );
    }
    const refusals = this.ns.addFolder(gateway, {
      nodeId: "s=Gateway/BrokerRefusals",
      browseName: "BrokerRefusals",
    });
    for (const reason of BROKER_REFUSALS)
      this.addCounter(
        refusals,
        "Gateway/BrokerRefusals",
        upperFirst(reason),
        () => c.brokerRefusals.get(reason) ?? 0,
      );
    const commands = this.ns.addFolder(gateway, { nodeId: "s=Gateway/Commands", browseName: "Commands" });
    const k = this.source.commands;
    this.addCounter(commands, "Gateway/Commands", "Calls", () => k.calls);
    this.addCounter(commands, "Gateway/Commands", "Succeeded", () => k.succeeded);
    this.addCounter(commands, "Gateway/Commands", "Rejected", () => k.rejected);
    this.addCounter(commands, "Gateway/Commands", "NoCommunication", () => k.noCommunication);
    this.addCounter(commands, "Gateway/Commands", "TimedOut", () => k.timedOut);
    this.addCounter(commands, "Gateway/Commands", "LateReplies", () => k.lateReplies);
    this.addCounter(commands, "Gateway/Commands", "RefusedReplies", () => k.refusedReplies);
    this.add(commands, "Gateway/Commands", "LastLatencyMs", DataType.Double, () => k.lastLatencyMs);
    this.add(commands, "Gateway/Commands", "Unacknowledged", DataType.UInt32, () => k.unacknowledged);
    this.devicesFolder = this.ns.addFolder(gateway, { nodeId: "s=Gateway/Devices", browseName: "Devices" });
  }

  /** Gateway/Devices/<type>/<name>/<source>: LastSeen and MessageCount of one device. */
  addDevice(device: DeviceActivity): void {
    const base = `Gateway/Devices/${device.key}`;
    const node = this.ns.addObject({
      nodeId: stringNodeId(this.ns, base),
      browseName: browseNameOf(this.ns, device.key),
      organizedBy: this.devicesFolder!,
      description: `Diagnostics of device ${device.key}`,
    });
    this.add(node, base, "LastSeen", DataType.DateTime, () =>
      device.lastSeen ? new Date(device.lastSeen) : null,
    );
    this.addCounter(node, base, "MessageCount", () => device.messageCount);
  }

  private addCounter(parent: UAObject, base: string, name: string, read: () => number): void {
    this.ns.addVariable({
      nodeId: stringNodeId(this.ns, `${base}/${name}`),
      browseName: name,
      componentOf: parent,
      dataType: "UInt64",
      minimumSamplingInterval: 1000,
      value: { get: () => uint64(read()) },
    });
  }

  private add(parent: UAObject, base: string, name: string, dataType: DataType, read: () => unknown): void {
    this.ns.addVariable({
      nodeId: stringNodeId(this.ns, `${base}/${name}`),
      browseName: name,
      componentOf: parent,
      dataType: DataType[dataType],
      // Read on demand; a client monitoring diagnostics is sampled once a second.
      minimumSamplingInterval: 1000,
      value: { get: () => new Variant({ dataType, value: read() }) },
    });
  }
}

/** `typeMismatch` → `TypeMismatch`: counter names as OPC UA BrowseNames. */
function upperFirst(name: string): string {
  return name[0]!.toUpperCase() + name.slice(1);
}
