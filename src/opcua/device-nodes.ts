import type { AddressSpace, BaseNode, INamespace, UAObject, UAObjectType, UAVariable } from "node-opcua";
import { parseTopic } from "../mapping/topic.js";
import { type Catalog, describePoint, type PointDef } from "../model/catalog-types.js";
import { type DeviceId, deviceKeyOf } from "../model/device-identity.js";
import {
  coerceLocalizedText,
  makeAccessLevelFlag,
  QualifiedName,
  resolveNodeId,
  StatusCodes,
} from "../shared/node-opcua.js";
import {
  accessLevelOf,
  folderTypeName,
  type InformationModel,
  type VariableKind,
  variableKind,
} from "./information-model.js";
import { browseNameOf, stringNodeId } from "./node-ids.js";
import { setInitialStatus, variantOf, writePoint } from "./patches/point-writer.js";
import { VariableFactory, type VariableShape } from "./patches/variable-factory.js";
import type { PointSink } from "./ports.js";

/** Told of what DeviceNodes creates, e.g. to hang commands on it. */
export interface DeviceNodesListener {
  /** A device object (folder []) or a catalog folder below it. */
  folderCreated(node: UAObject, nodePath: string, folder: readonly string[], device: DeviceId): void;
  variableCreated(variable: UAVariable, point: PointDef, device: DeviceId, deviceNode: UAObject): void;
  /** The HA Configuration (Part 11 5.2.4) every variable of the point references; null: not historized. */
  historicalConfiguration(point: PointDef): BaseNode | null;
}

/** What every node id of the Devices tree starts with (no topic does: their first level is a number). */
const DEVICES = "Devices/";

/** Per catalog point, what every device's variable of that point shares. */
interface PointTemplate extends VariableShape {
  /** The point's catalog folder path below its device, slash-joined ("" at the device itself). */
  folderPath: string;
}

/**
 * Builds the mirrored part of the address space:
 * Objects/SmartGear/Devices/<deviceType>/<deviceName>/<deviceSource>/<catalog folders>/<point>.
 *
 * NodeIds are derived from topics so that a PLC can bind them before the device ever publishes:
 * the variable of topic T is `s=T`; every other node's id starts with `Devices/`, which no
 * Sm@rtGear topic does (their first level is a number), so the two can never collide.
 */
export class DeviceNodes implements PointSink {
  /** PointSink: the point writer's Variant and write, which bypass node-opcua's checks (see there). */
  readonly value = variantOf;
  readonly write = writePoint;
  private readonly templates = new Map<string, PointTemplate>();
  private readonly factory: VariableFactory;
  /** The type of catalog folders the model does not declare (Unmapped). */
  private readonly folderType: UAObjectType;
  /** Devices and their type and name folders, by NodeId key. */
  private readonly nodes = new Map<string, UAObject>();
  /** Per device object, its catalog folders by path ("PowerQuality/Voltage"): found without a key built per point. */
  private readonly folders = new WeakMap<UAObject, Map<string, UAObject>>();
  private createdAt = new Date(0);

  constructor(
    private readonly ns: INamespace,
    private readonly modelNs: INamespace,
    private readonly model: InformationModel,
    private readonly devicesFolder: UAObject,
    catalog: Catalog,
    private readonly listener: DeviceNodesListener = {
      folderCreated: () => {},
      variableCreated: () => {},
      historicalConfiguration: () => null,
    },
  ) {
    this.factory = new VariableFactory(ns);
    this.folderType = ns.addressSpace.findObjectType("FolderType")!;
    // node-opcua derives a JavaScript accessor name from each new node's browse name (a few
    // string passes, and a string kept per node) unless the name is registered: the catalog's
    // names are, once, rather than per device (~0.5 s and ~50 B a point at 100,000 points).
    (ns.addressSpace as AddressSpace).registerChildAccessorNames([
      ...new Set(catalog.points.flatMap((p) => [p.browseName, ...p.folder])),
    ]);
    for (const p of catalog.points) {
      const declaration = modelNs.findNode(
        `ns=${modelNs.index};s=${folderTypeName(p.folder)}/${p.browseName}`,
      );
      // EngineeringUnits and EURange: one node each per point, shared by every device's variable.
      const properties = (declaration?.findReferencesExAsObject?.("HasProperty") ?? []) as BaseNode[];
      this.templates.set(p.topicId, this.template(p, variableKind(p), properties));
    }
  }

  /** The device object, created with its type and name folders on first use. */
  device(id: DeviceId): UAObject {
    const typeFolder = this.folder(`${DEVICES}${id.deviceType}`, id.deviceType, this.devicesFolder);
    const nameFolder = this.folder(`${DEVICES}${id.deviceType}/${id.deviceName}`, id.deviceName, typeFolder);
    const key = deviceNodeKey(id);
    let device = this.nodes.get(key);
    if (!device) {
      device = this.ns.addObject({
        nodeId: stringNodeId(this.ns, key),
        browseName: browseNameOf(this.ns, id.deviceSource),
        organizedBy: nameFolder,
        typeDefinition: this.model.deviceType,
        // Its alarms are raised on it: a client may subscribe to one device's events.
        eventNotifier: 1,
        description: `Sm@rtGear device ${deviceKeyOf(id)}`,
      });
      this.nodes.set(key, device);
      this.listener.folderCreated(device, key, [], id);
    }
    return device;
  }

  /** The variable mirrored from `topic`, created (BadWaitingForInitialData) with its folders. */
  variable(device: UAObject, id: DeviceId, point: PointDef, topic: string): UAVariable {
    // Unmapped stand-ins (not in the catalog) have no template: a plain variable, no properties.
    const template = this.templates.get(point.topicId) ?? this.template(point, "BaseDataVariableType", []);
    // The point's folder is usually there already: one lookup, not one per level.
    const parent =
      point.folder.length === 0
        ? device
        : (this.folders.get(device)?.get(template.folderPath) ?? this.modelFolders(id, point.folder, device));
    const variable = this.factory.create(stringNodeId(this.ns, topic), template, parent);
    setInitialStatus(variable, StatusCodes.BadWaitingForInitialData, this.creationTime());
    this.listener.variableCreated(variable, point, id, device);
    return variable;
  }

  /** Resolved once per point, and its names and references shared by every device's variable. */
  private template(point: PointDef, kind: VariableKind, properties: readonly BaseNode[]): PointTemplate {
    const configuration = this.listener.historicalConfiguration(point);
    return {
      browseName: new QualifiedName({ name: point.browseName, namespaceIndex: this.modelNs.index }),
      displayName: coerceLocalizedText(point.browseName)!,
      description: coerceLocalizedText(describePoint(point))!,
      dataType: resolveNodeId(point.dataType),
      accessLevel: makeAccessLevelFlag(accessLevelOf(point)),
      references: [
        this.factory.reference("HasTypeDefinition", this.ns.addressSpace.findVariableType(kind)!),
        ...properties.map((n) => this.factory.reference("HasProperty", n)),
        ...(configuration ? [this.factory.reference("HasHistoricalConfiguration", configuration)] : []),
      ],
      folderPath: point.folder.join("/"),
    };
  }

  /** One Date per millisecond of creation, shared by the variables created within it. */
  private creationTime(): Date {
    const now = Date.now();
    if (this.createdAt.getTime() !== now) this.createdAt = new Date(now);
    return this.createdAt;
  }

  private folder(key: string, name: string, parent: UAObject): UAObject {
    let node = this.nodes.get(key);
    if (!node) {
      node = this.ns.addFolder(parent, {
        nodeId: stringNodeId(this.ns, key),
        browseName: browseNameOf(this.ns, name),
      });
      this.nodes.set(key, node);
    }
    return node;
  }

  /** The catalog folders of `folder` below a device, each created on first use. */
  private modelFolders(id: DeviceId, folder: readonly string[], device: UAObject): UAObject {
    let byPath = this.folders.get(device);
    if (!byPath) {
      byPath = new Map();
      this.folders.set(device, byPath);
    }
    let parent = device;
    for (let depth = 1; depth <= folder.length; depth++)
      parent = this.modelFolder(id, folder.slice(0, depth), parent, byPath);
    return parent;
  }

  /** A catalog folder below a device (its folders `byPath`): a component typed by the model's folder type. */
  private modelFolder(
    id: DeviceId,
    folder: readonly string[],
    parent: UAObject,
    byPath: Map<string, UAObject>,
  ): UAObject {
    const path = folder.join("/");
    let node = byPath.get(path);
    if (!node) {
      const key = `${deviceNodeKey(id)}/${path}`;
      node = this.factory.createObject(
        stringNodeId(this.ns, key),
        new QualifiedName({ name: folder.at(-1)!, namespaceIndex: this.modelNs.index }),
        this.model.folderTypes.get(path) ?? this.folderType,
        parent,
      );
      byPath.set(path, node);
      this.listener.folderCreated(node, key, folder, id);
    }
    return node;
  }
}

/**
 * Key (and NodeId) of a device object, `Devices/<deviceKeyOf>`; the ids of its folders and of what
 * hangs on it (conditions, Online) continue it, and so never collide with a topic's.
 */
export function deviceNodeKey(id: DeviceId): string {
  return `${DEVICES}${deviceKeyOf(id)}`;
}

/**
 * The device a node of the devices namespace belongs to, by its string NodeId: a point's (a topic)
 * or one at or below a device object (`Devices/<deviceType>/<deviceName>/<deviceSource>...`), as
 * deviceKeyOf; null for any other (the Devices tree's type and name folders, the SmartGear nodes).
 */
export function deviceKeyOfNodeId(id: string): string | null {
  if (!id.startsWith(DEVICES)) return parseTopic(id)?.deviceKey ?? null;
  const levels = id.split("/", 4);
  return levels.length === 4 ? levels.slice(1).join("/") : null;
}
