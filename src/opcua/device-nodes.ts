import {
  type BaseNode,
  coerceLocalizedText,
  type INamespace,
  type LocalizedText,
  type NodeId,
  QualifiedName,
  StatusCodes,
  type UAObject,
  type UAVariable,
} from "node-opcua";
import { type Catalog, describePoint, type PointDef } from "../model/catalog-types.js";
import { accessLevelOf, folderTypeName, type InformationModel, variableKind } from "./information-model.js";
import { browseNameOf, stringNodeId } from "./node-ids.js";
import { setInitialStatus } from "./point-writer.js";

/** A device's identity: the last three levels of its topics. */
export interface DeviceId {
  deviceType: string;
  deviceName: string;
  deviceSource: string;
}

/** Told of what DeviceNodes creates, e.g. to hang commands on it. */
export interface DeviceNodesListener {
  /** A device object (folder []) or a catalog folder below it. */
  folderCreated(node: UAObject, nodePath: string, folder: readonly string[], device: DeviceId): void;
  variableCreated(variable: UAVariable, point: PointDef, device: DeviceId, deviceNode: UAObject): void;
}

/** Per catalog point, what every device's variable of that point shares. */
interface PointTemplate {
  browseName: QualifiedName;
  displayName: LocalizedText;
  description: LocalizedText;
  typeDefinition: string;
  /** EngineeringUnits and EURange of the point's instance declaration in the model. */
  properties: NodeId[];
}

/**
 * Builds the mirrored part of the address space:
 * Objects/SmartGear/Devices/<deviceType>/<deviceName>/<deviceSource>/<catalog folders>/<point>.
 *
 * NodeIds are derived from topics so that a PLC can bind them before the device ever publishes:
 * the variable of topic T is `s=T`; every other node's id starts with `Devices/`, which no
 * Sm@rtGear topic does (their first level is a number), so the two can never collide.
 */
export class DeviceNodes {
  private readonly templates = new Map<string, PointTemplate>();
  private readonly nodes = new Map<string, UAObject>();

  constructor(
    private readonly ns: INamespace,
    private readonly modelNs: INamespace,
    private readonly model: InformationModel,
    private readonly devicesFolder: UAObject,
    catalog: Catalog,
    private readonly listener: DeviceNodesListener = { folderCreated: () => {}, variableCreated: () => {} },
  ) {
    for (const p of catalog.points) {
      const declaration = modelNs.findNode(
        `ns=${modelNs.index};s=${folderTypeName(p.folder)}/${p.browseName}`,
      );
      const properties = (declaration?.findReferencesExAsObject?.("HasProperty") ?? []) as BaseNode[];
      this.templates.set(p.topicId, {
        browseName: new QualifiedName({ name: p.browseName, namespaceIndex: modelNs.index }),
        displayName: coerceLocalizedText(p.browseName)!,
        description: coerceLocalizedText(describePoint(p))!,
        typeDefinition: variableKind(p),
        properties: properties.map((n) => n.nodeId),
      });
    }
  }

  /** The device object, created with its type and name folders on first use. */
  device(id: DeviceId): UAObject {
    const typeFolder = this.folder(`Devices/${id.deviceType}`, id.deviceType, this.devicesFolder);
    const nameFolder = this.folder(`Devices/${id.deviceType}/${id.deviceName}`, id.deviceName, typeFolder);
    const key = `Devices/${id.deviceType}/${id.deviceName}/${id.deviceSource}`;
    let device = this.nodes.get(key);
    if (!device) {
      device = this.ns.addObject({
        nodeId: stringNodeId(this.ns, key),
        browseName: browseNameOf(this.ns, id.deviceSource),
        organizedBy: nameFolder,
        typeDefinition: this.model.deviceType,
        // Its alarms are raised on it: a client may subscribe to one device's events.
        eventNotifier: 1,
        description: `Sm@rtGear device ${id.deviceType}/${id.deviceName}/${id.deviceSource}`,
      });
      this.nodes.set(key, device);
      this.listener.folderCreated(device, key, [], id);
    }
    return device;
  }

  /** The variable mirrored from `topic`, created (BadWaitingForInitialData) with its folders. */
  variable(device: UAObject, id: DeviceId, point: PointDef, topic: string): UAVariable {
    let parent = device;
    for (let depth = 1; depth <= point.folder.length; depth++)
      parent = this.modelFolder(id, point.folder.slice(0, depth), parent);
    // Unmapped stand-ins (not in the catalog) have no template: a plain variable, no properties.
    const template = this.templates.get(point.topicId) ?? {
      browseName: new QualifiedName({ name: point.browseName, namespaceIndex: this.modelNs.index }),
      displayName: coerceLocalizedText(point.browseName)!,
      description: coerceLocalizedText(describePoint(point))!,
      typeDefinition: "BaseDataVariableType",
      properties: [],
    };
    const variable = this.ns.addVariable({
      nodeId: stringNodeId(this.ns, topic),
      // One name object per catalog point, shared by every device's variable of it.
      browseName: template.browseName,
      displayName: template.displayName,
      description: template.description,
      componentOf: parent,
      dataType: point.dataType,
      typeDefinition: template.typeDefinition,
      // Exception-based: node-opcua notifies on each write; timer sampling does not scale.
      minimumSamplingInterval: 0,
      accessLevel: accessLevelOf(point),
      userAccessLevel: accessLevelOf(point),
    });
    for (const property of template.properties)
      variable.addReference({ referenceType: "HasProperty", nodeId: property });
    setInitialStatus(variable, StatusCodes.BadWaitingForInitialData);
    this.listener.variableCreated(variable, point, id, device);
    return variable;
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

  /** A catalog folder below a device: a component typed by the model's folder type. */
  private modelFolder(id: DeviceId, folder: readonly string[], parent: UAObject): UAObject {
    const path = folder.join("/");
    const key = `Devices/${id.deviceType}/${id.deviceName}/${id.deviceSource}/${path}`;
    let node = this.nodes.get(key);
    if (!node) {
      node = this.ns.addObject({
        nodeId: stringNodeId(this.ns, key),
        browseName: { name: folder.at(-1)!, namespaceIndex: this.modelNs.index },
        componentOf: parent,
        typeDefinition: this.model.folderTypes.get(path) ?? "FolderType",
      });
      this.nodes.set(key, node);
      this.listener.folderCreated(node, key, folder, id);
    }
    return node;
  }
}
