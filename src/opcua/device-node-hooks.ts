import type { GatewayConfig } from "../config/config-types.js";
import type { AlarmNodes } from "./alarm-nodes.js";
import type { CommandNodes } from "./command-nodes.js";
import type { DeviceNodesListener } from "./device-nodes.js";
import type { HistoryReadService } from "./history-read.js";

/**
 * What hangs on the nodes DeviceNodes creates: a device's and each catalog folder's methods, a
 * device's event history,
 * point's opted-in write, its HistoryRead, its alarm condition (catalog alarm points) and its limit alarm
 * (alarms.limits). Called as each node is made, before its first value is written.
 */
export function deviceNodeHooks(
  commandNodes: CommandNodes,
  alarmNodes: AlarmNodes,
  limitAlarms: GatewayConfig["alarms"]["limits"],
  historyRead: HistoryReadService | null = null,
): DeviceNodesListener {
  const limits = new Map(limitAlarms.map((l) => [l.point, l]));
  return {
    folderCreated: (node, path, folder, device) => {
      commandNodes.add(node, path, folder, device);
      // A device object: a HistoricalEventNotifier of the events whose SourceNode it is.
      if (folder.length === 0) historyRead?.installEvents(node, node.nodeId.toString());
    },
    variableCreated: (variable, point, device, deviceNode) => {
      commandNodes.bindWrite(variable, point.topicId, device);
      historyRead?.install(variable);
      if (point.alarm) alarmNodes.watch(variable, point, device, deviceNode);
      const limit = limits.get(point.topicId);
      if (limit) alarmNodes.watchLimit(variable, point, device, deviceNode, limit);
    },
    historicalConfiguration: (point) => historyRead?.configurationOf(point) ?? null,
  };
}
