import {
  type AddReferenceOpts,
  type AddressSpace,
  type BaseNode,
  coerceLocalizedText,
  type INamespace,
  type LocalizedText,
  QualifiedName,
  StatusCodes,
  type UAObject,
  type UAVariable,
} from "node-opcua";
import { type Catalog, describePoint, type PointDef } from "../model/catalog-types.js";
import { accessLevelOf, folderTypeName, type InformationModel, variableKind } from "./information-model.js";
import { withoutModelChangeCheck } from "./model-change-check.js";
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
  /** The point's catalog folder path below its device, slash-joined ("" at the device itself). */
  folderPath: string;
  /** HasProperty to the EngineeringUnits and EURange of the point's instance declaration. */
  references: AddReferenceOpts[];
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
  private createdAt = new Date(0);

  constructor(
    private readonly ns: INamespace,
    private readonly modelNs: INamespace,
    private readonly model: InformationModel,
    private readonly devicesFolder: UAObject,
    catalog: Catalog,
    private readonly listener: DeviceNodesListener = { folderCreated: () => {}, variableCreated: () => {} },
  ) {
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
      const properties = (declaration?.findReferencesExAsObject?.("HasProperty") ?? []) as BaseNode[];
      for (const property of properties) holdNoInverseReferences(property);
      this.templates.set(p.topicId, {
        browseName: new QualifiedName({ name: p.browseName, namespaceIndex: modelNs.index }),
        displayName: coerceLocalizedText(p.browseName)!,
        description: coerceLocalizedText(describePoint(p))!,
        typeDefinition: variableKind(p),
        folderPath: p.folder.join("/"),
        references: properties.map((n) => ({
          referenceType: "HasProperty",
          isForward: true,
          nodeId: n.nodeId,
        })),
      });
    }
  }

  /** The device object, created with its type and name folders on first use. */
  device(id: DeviceId): UAObject {
    const typeFolder = this.folder(`Devices/${id.deviceType}`, id.deviceType, this.devicesFolder);
    const nameFolder = this.folder(`Devices/${id.deviceType}/${id.deviceName}`, id.deviceName, typeFolder);
    const key = deviceKey(id);
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
    // Unmapped stand-ins (not in the catalog) have no template: a plain variable, no properties.
    const template = this.templates.get(point.topicId) ?? {
      browseName: new QualifiedName({ name: point.browseName, namespaceIndex: this.modelNs.index }),
      displayName: coerceLocalizedText(point.browseName)!,
      description: coerceLocalizedText(describePoint(point))!,
      typeDefinition: "BaseDataVariableType",
      folderPath: point.folder.join("/"),
      references: [],
    };
    // The point's folder is usually there already: one lookup, not one per level.
    const parent =
      point.folder.length === 0
        ? device
        : (this.nodes.get(`${deviceKey(id)}/${template.folderPath}`) ??
          this.modelFolders(id, point.folder, device));
    // The mirrored tree's folders have no NodeVersion (see withoutModelChangeCheck).
    const variable = withoutModelChangeCheck(() =>
      this.ns.addVariable({
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
        references: template.references,
      }),
    );
    setInitialStatus(variable, StatusCodes.BadWaitingForInitialData, this.creationTime());
    // node-opcua memoised the variable's type lookup while creating it (~250 B a variable); most
    // variables are never browsed, and a browse memoises it again.
    (variable as unknown as { _clear_caches(): void })._clear_caches();
    this.listener.variableCreated(variable, point, id, device);
    return variable;
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
    let parent = device;
    for (let depth = 1; depth <= folder.length; depth++)
      parent = this.modelFolder(id, folder.slice(0, depth), parent);
    return parent;
  }

  /** A catalog folder below a device: a component typed by the model's folder type. */
  private modelFolder(id: DeviceId, folder: readonly string[], parent: UAObject): UAObject {
    const path = folder.join("/");
    const key = `${deviceKey(id)}/${path}`;
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

/** Key (and NodeId) of a device object; its folders' keys continue it. */
function deviceKey(id: DeviceId): string {
  return `Devices/${id.deviceType}/${id.deviceName}/${id.deviceSource}`;
}

/**
 * Every device's variable of a point shares its declaration's EngineeringUnits and EURange nodes.
 * node-opcua would give such a node an inverse HasProperty per variable: 100,000 of them at
 * 100,000 points (~300 B a point), and an inverse browse answering all of them. The node keeps
 * the inverse reference to its declaration, which it was created with, and no other.
 */
function holdNoInverseReferences(node: BaseNode): void {
  (node as unknown as { _add_backward_reference(reference: unknown): void })._add_backward_reference =
    () => {};
}
