import type { INamespace, UAVariable } from "node-opcua";
import { POINT_STATUS } from "../mapping/point-status.js";
import type { Logger } from "../shared/logger.js";
import { DataType } from "../shared/node-opcua.js";
import { deviceNodeKey } from "./device-nodes.js";
import { stringNodeId } from "./node-ids.js";
import { variantOf, writePoint } from "./patches/point-writer.js";
import type { DeviceActivity } from "./ports.js";

interface Tracked {
  device: DeviceActivity;
  online: UAVariable;
  /** null until decided: a declared device never seen is neither online nor offline yet. */
  state: boolean | null;
  /** The device's own last word (status topic or last will), and when it came. */
  reported: { online: boolean; at: number } | null;
}

/**
 * Per device an Online variable (`Devices/<type>/<name>/<source>/Online`), true while the device
 * published within mapping.offlineAfter seconds, and an event on the device object whenever it
 * changes, so an operator's alarm list shows a feeder that went silent. Decided by a sweep at
 * least once a second: the hot path of messages pays nothing for it.
 */
export class DeviceHealth {
  private readonly tracked: Tracked[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ns: INamespace,
    private readonly offlineAfterMs: number,
    private readonly logger: Logger,
  ) {}

  add(device: DeviceActivity): void {
    const online = this.ns.addVariable({
      nodeId: stringNodeId(this.ns, `${deviceNodeKey(device)}/Online`),
      browseName: "Online",
      componentOf: device.node,
      dataType: "Boolean",
      minimumSamplingInterval: 0,
      description: "true while the device published within mapping.offlineAfter seconds",
    });
    writePoint(online, variantOf("Boolean", null), POINT_STATUS.noValueYet, null, new Date());
    this.tracked.push({ device, online, state: null, reported: null });
    this.evaluate(this.tracked.at(-1)!, Date.now());
  }

  start(): void {
    if (this.offlineAfterMs <= 0) return;
    this.timer = setInterval(() => this.sweep(Date.now()), Math.min(1000, this.offlineAfterMs / 4));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The device said so itself (status topic, last will): believed until it publishes again. */
  report(device: DeviceActivity, online: boolean, now: number): void {
    const t = this.tracked.find((x) => x.device === device);
    if (!t) return;
    t.reported = { online, at: now };
    this.evaluate(t, now);
  }

  sweep(now: number): void {
    for (const t of this.tracked) this.evaluate(t, now);
  }

  private evaluate(t: Tracked, now: number): void {
    // An offline word holds until a message comes after it; an online word is a sign of life
    // like a message, and like one it ages out after mapping.offlineAfter.
    const saidOffline = t.reported !== null && !t.reported.online && t.device.lastSeen <= t.reported.at;
    const lastSign = Math.max(t.device.lastSeen, t.reported?.online ? t.reported.at : 0);
    if (lastSign === 0 && !saidOffline) return;
    const online = !saidOffline && (this.offlineAfterMs <= 0 || now - lastSign <= this.offlineAfterMs);
    if (online === t.state) return;
    const changed = t.state !== null || !online;
    t.state = online;
    writePoint(t.online, variantOf("Boolean", online), POINT_STATUS.good, new Date(now), new Date(now));
    if (!changed) return;
    const why = saidOffline ? "its status topic says so" : `no message for ${this.offlineAfterMs / 1000} s`;
    const message = `${t.device.key} ${online ? "online again" : `offline: ${why}`}`;
    this.logger.warn(message, { device: t.device.key, online });
    t.device.node.raiseEvent("BaseEventType", {
      sourceName: { dataType: DataType.String, value: t.device.key },
      message: { dataType: DataType.LocalizedText, value: { text: message } },
      severity: { dataType: DataType.UInt16, value: online ? 200 : 600 },
    });
  }
}
