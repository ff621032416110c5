import type {
  BaseNode,
  DataValue,
  OPCUAServer,
  UAAlarmConditionEx,
  UAObject,
  UAObjectType,
  UAVariable,
} from "node-opcua";
import type { GatewayConfig } from "../config/config-types.js";
import type { ConsoleDevice, ConsolePoint, ConsoleSources, PkiKind } from "../http/console-port.js";
import { type IngestCounters, REJECT_REASONS } from "../mapping/counters.js";
import type { BrokerLink } from "../mqtt/broker-link.js";
import { redactUrl } from "../mqtt/tls-options.js";
import { pkiFolders } from "../opcua/pki-folders.js";
import { PkiStore } from "../security/pki-store.js";
import { NodeClass, NodeId, NodeIdType } from "../shared/node-opcua.js";

/** The gateway's parts the console reads, each null before it is built or after stop(). */
export interface ConsoleParts {
  config(): GatewayConfig;
  version: string;
  startedAt: number;
  counters: IngestCounters;
  source(): BrokerLink | null;
  pointCount(): number;
  /** The embedded broker's port, 0 with an external broker. */
  brokerPort(): number;
  /** Epoch ms of the broker link's current connection, null while down. */
  brokerSince(): number | null;
  server(): OPCUAServer | null;
  /** The Devices folder, the device type and every condition built so far; null before the address space. */
  addressSpace(): {
    devicesFolder: UAObject;
    deviceType: UAObjectType;
    conditions: readonly UAAlarmConditionEx[];
  } | null;
}

/** How long a device's list of variables is reused before it is browsed again (for points added since). */
const LAYOUT_REUSE_MS = 5000;
/** Devices whose list of variables is kept (the pages open at once; the oldest is forgotten first). */
const MAX_LAYOUTS = 64;

/** A point variable of a device as the console lists it: browsed once, its value read at each look. */
interface PointLayout {
  variable: UAVariable;
  nodeId: string;
  path: string;
  unit: string;
}

/** A NodeId as the console shows it and takes it back: `ns=<index>;s=<id>` (parsed strictly, see node-ids.ts). */
const STRING_NODE_ID = /^ns=(\d+);s=([\s\S]+)$/;

/**
 * The console's port (src/http/console-port.ts) on the gateway's parts: every answer is read from
 * the address space, the counters and the PKI folders when a page or an update asks for it.
 */
export function consoleSourcesOf(parts: ConsoleParts): ConsoleSources {
  let sample = { at: parts.startedAt, received: 0, decoded: 0, rejected: 0 };
  let rates = { received: 0, decoded: 0, rejected: 0 };
  // A live page reads its device's points four times a second: the browse that finds them (folders,
  // references, EngineeringUnits) costs ten times the reads, and is done once per LAYOUT_REUSE_MS.
  const layouts = new Map<string, { at: number; points: PointLayout[] }>();
  const stores = (): Record<PkiKind, PkiStore> => {
    const folders = pkiFolders(parts.config());
    return { applications: new PkiStore(folders.applications), users: new PkiStore(folders.users) };
  };
  const deviceList = (): ConsoleDevice[] => {
    const roots = parts.addressSpace();
    if (!roots) return [];
    const devices: ConsoleDevice[] = [];
    for (const type of organized(roots.devicesFolder))
      for (const name of organized(type))
        for (const device of organized(name))
          devices.push({
            nodeId: device.nodeId.toString(),
            path: [browseName(type), browseName(name), browseName(device)],
            online: onlineOf(device),
          });
    return devices;
  };

  return {
    overview() {
      const { counters } = parts;
      const now = Date.now();
      // Per second over the time since the previous look (at least a second), not per message.
      const dt = (now - sample.at) / 1000;
      if (dt >= 1) {
        rates = {
          received: (counters.received - sample.received) / dt,
          decoded: (counters.decoded - sample.decoded) / dt,
          rejected: (counters.rejected - sample.rejected) / dt,
        };
        sample = {
          at: now,
          received: counters.received,
          decoded: counters.decoded,
          rejected: counters.rejected,
        };
      }
      const config = parts.config();
      const source = parts.source();
      const server = parts.server();
      const devices = deviceList();
      return {
        version: parts.version,
        startedAt: parts.startedAt,
        broker: {
          url:
            redactUrl(config.mqtt.url) ||
            `mqtt://${config.broker.host}:${parts.brokerPort()} (embedded broker)`,
          protocol: source?.protocol ?? "",
          connected: source?.connected ?? false,
          since: parts.brokerSince(),
        },
        rates,
        totals: { received: counters.received, decoded: counters.decoded, rejected: counters.rejected },
        rejectsBy: REJECT_REASONS.map((r): [string, number] => [r, counters.rejectedBy.get(r) ?? 0]).filter(
          ([, n]) => n > 0,
        ),
        devices: {
          total: devices.length,
          online: devices.filter((d) => d.online === true).length,
          offline: devices.filter((d) => d.online === false).length,
          unknown: devices.filter((d) => d.online === null).length,
        },
        points: parts.pointCount(),
        opcua: {
          endpoint: server?.getEndpointUrl() ?? "",
          sessions: server?.currentSessionCount ?? 0,
          subscriptions: server?.currentSubscriptionCount ?? 0,
          rejectedSessions: server?.rejectedSessionCount ?? 0,
        },
      };
    },

    devices(limit) {
      const devices = deviceList();
      return { devices: devices.slice(0, limit), total: devices.length };
    },

    points(deviceNodeId) {
      const roots = parts.addressSpace();
      const m = STRING_NODE_ID.exec(deviceNodeId);
      if (!roots || !m) return null;
      const now = Date.now();
      const known = layouts.get(deviceNodeId);
      if (known && now - known.at < LAYOUT_REUSE_MS) return known.points.map(pointOf);
      const node = roots.devicesFolder.addressSpace.findNode(
        new NodeId(NodeIdType.STRING, m[2]!, Number(m[1])),
      );
      if (
        node?.nodeClass !== NodeClass.Object ||
        (node as UAObject).typeDefinition.toString() !== roots.deviceType.nodeId.toString()
      )
        return null;
      const points: PointLayout[] = [];
      collectPoints(node as UAObject, "", points);
      layouts.delete(deviceNodeId);
      if (layouts.size >= MAX_LAYOUTS) layouts.delete(layouts.keys().next().value!);
      layouts.set(deviceNodeId, { at: now, points });
      return points.map(pointOf);
    },

    alarms() {
      const conditions = parts.addressSpace()?.conditions ?? [];
      return conditions
        .filter((c) => c.currentBranch().getRetain())
        .map((c) => {
          const branch = c.currentBranch();
          const time = c.time.readValue().value.value as Date | null;
          return {
            nodeId: c.nodeId.toString(),
            source: String(c.sourceName.readValue().value.value ?? ""),
            message: branch.getMessage().text ?? "",
            severity: branch.getSeverity(),
            time: time ? time.toISOString() : "",
            active: branch.getActiveState(),
            acknowledged: branch.getAckedState(),
          };
        })
        .sort((a, b) => b.time.localeCompare(a.time));
    },

    certificates() {
      const s = stores();
      return { applications: s.applications.list(), users: s.users.list() };
    },

    decide(kind, action, thumbprint) {
      const store = stores()[kind];
      return action === "trust" ? store.trust(thumbprint) : store.reject(thumbprint);
    },
  };
}

/** The nodes a folder organizes (type, name and device levels of the Devices tree), by browse name. */
function organized(node: BaseNode): BaseNode[] {
  return node
    .findReferencesExAsObject("Organizes")
    .sort((a, b) => browseName(a).localeCompare(browseName(b)));
}

const browseName = (node: BaseNode) => node.browseName.name ?? "";

/** The device's Online variable (device-health.ts): null until decided. */
function onlineOf(device: BaseNode): boolean | null {
  const online = (device as UAObject).getComponentByName("Online") as UAVariable | null;
  const dv = online?.readValue();
  return dv?.statusCode.isGood() ? (dv.value.value as boolean) : null;
}

/** The variables below a device: its points in their catalog folders; not its conditions or methods. */
function collectPoints(node: UAObject, prefix: string, into: PointLayout[]): void {
  const children = [...node.findReferencesExAsObject("Organizes"), ...node.getComponents()];
  for (const child of children) {
    const path = `${prefix}${browseName(child)}`;
    if (child.nodeClass === NodeClass.Variable) into.push(layoutOf(child as UAVariable, path));
    else if (child.nodeClass === NodeClass.Object && !isCondition(child as UAObject))
      collectPoints(child as UAObject, `${path}/`, into);
  }
}

const isCondition = (node: UAObject) =>
  node.typeDefinitionObj.isSubtypeOf(node.addressSpace.findEventType("ConditionType")!);

function layoutOf(variable: UAVariable, path: string): PointLayout {
  const units = variable.getPropertyByName("EngineeringUnits")?.readValue().value.value as
    | { displayName?: { text?: string | null } }
    | null
    | undefined;
  return { variable, nodeId: variable.nodeId.toString(), path, unit: units?.displayName?.text ?? "" };
}

function pointOf({ variable, nodeId, path, unit }: PointLayout): ConsolePoint {
  const dv: DataValue = variable.readValue();
  return {
    nodeId,
    path,
    value: shown(dv.value.value),
    unit,
    status: dv.statusCode.name,
    sourceTimestamp: dv.sourceTimestamp?.toISOString() ?? "",
  };
}

function shown(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (value instanceof Date) return value.toISOString();
  return String(value);
}
