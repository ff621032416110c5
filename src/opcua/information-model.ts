import { type INamespace, Range, type UAObjectType } from "node-opcua";
import { type Catalog, describePoint, NUMERIC_TYPES, type PointDef } from "../model/catalog-types.js";
import { euInformation } from "./engineering-units.js";

/** Namespace of the Sm@rtGear information model (types); instances live in the gateway's namespace. */
export const MODEL_NAMESPACE_URI = "urn:smartgear-gateway:model";
export const DEVICE_TYPE_NAME = "SmartGearDeviceType";

/** How a catalog point is typed in OPC UA (Part 8: AnalogItemType has EURange, AnalogUnitType a unit). */
export type VariableKind = "AnalogItemType" | "AnalogUnitType" | "BaseDataVariableType";

export function variableKind(p: PointDef): VariableKind {
  if (!NUMERIC_TYPES.has(p.dataType)) return "BaseDataVariableType";
  if (p.range) return "AnalogItemType";
  return p.unit ? "AnalogUnitType" : "BaseDataVariableType";
}

/** ObjectType name of a folder path: PowerQuality/Voltage ⇒ PowerQualityVoltageType. */
export function folderTypeName(path: readonly string[]): string {
  return `${path.join("")}Type`;
}

export interface InformationModel {
  deviceType: UAObjectType;
  /** Folder path (slash-joined) ⇒ its ObjectType. */
  folderTypes: ReadonlyMap<string, UAObjectType>;
}

/**
 * Adds the Sm@rtGear types to `ns`: one ObjectType per catalog folder (a FolderType subtype whose
 * sub-folders and variables are Optional instance declarations) and SmartGearDeviceType holding
 * the top-level folders. A device publishes a subset of the catalog, so nothing is Mandatory.
 * NodeIds are strings derived from names, so the exported NodeSet2 is stable across runs.
 */
export function buildInformationModel(ns: INamespace, catalog: Catalog): InformationModel {
  const folderTypes = new Map<string, UAObjectType>();
  const folderPaths = new Set<string>();
  for (const p of catalog.points)
    for (let i = 1; i <= p.folder.length; i++) folderPaths.add(p.folder.slice(0, i).join("/"));
  const sorted = [...folderPaths].sort();
  const id = (s: string) => `s=${s}`;

  for (const path of sorted) {
    const segments = path.split("/");
    const name = folderTypeName(segments);
    const label = catalog.families.get(familyOfFolder(catalog, segments[0]!) ?? "")?.label;
    folderTypes.set(
      path,
      ns.addObjectType({
        nodeId: id(name),
        browseName: name,
        subtypeOf: "FolderType",
        description: `Sm@rtGear folder ${path}${label && segments.length === 1 ? ` (${label})` : ""}`,
      }),
    );
  }

  const deviceType = ns.addObjectType({
    nodeId: id(DEVICE_TYPE_NAME),
    browseName: DEVICE_TYPE_NAME,
    subtypeOf: "BaseObjectType",
    description:
      "A Sm@rtGear device (deviceType/deviceName/deviceSource of its topics), with the folders of the points it publishes",
  });

  for (const path of sorted) {
    const segments = path.split("/");
    const parentPath = segments.slice(0, -1).join("/");
    const parent = parentPath ? folderTypes.get(parentPath)! : deviceType;
    const parentName = parentPath ? folderTypeName(parentPath.split("/")) : DEVICE_TYPE_NAME;
    ns.addObject({
      nodeId: id(`${parentName}/${segments.at(-1)}`),
      browseName: segments.at(-1)!,
      componentOf: parent,
      typeDefinition: folderTypes.get(path)!,
      modellingRule: "Optional",
    });
  }

  for (const p of catalog.points) {
    const owner = folderTypes.get(p.folder.join("/"))!;
    addPointDeclaration(ns, owner, `${folderTypeName(p.folder)}/${p.browseName}`, p);
  }
  return { deviceType, folderTypes };
}

function familyOfFolder(catalog: Catalog, top: string): string | undefined {
  return [...catalog.families.values()].find((f) => f.name === top)?.id;
}

/** Only readWrite points accept writes; node-opcua would otherwise declare every variable writable. */
export function accessLevelOf(p: PointDef): "CurrentRead" | "CurrentRead | CurrentWrite" {
  return p.access === "readWrite" ? "CurrentRead | CurrentWrite" : "CurrentRead";
}

function addPointDeclaration(ns: INamespace, owner: UAObjectType, nodeId: string, p: PointDef): void {
  const common = {
    nodeId: `s=${nodeId}`,
    browseName: p.browseName,
    description: describePoint(p),
    componentOf: owner,
    dataType: p.dataType,
    // Without these node-opcua declares every variable writable; only readWrite points accept writes.
    accessLevel: accessLevelOf(p),
    userAccessLevel: accessLevelOf(p),
    modellingRule: "Optional" as const,
    minimumSamplingInterval: 0,
  };
  const kind = variableKind(p);
  if (kind === "BaseDataVariableType") {
    ns.addVariable({ ...common, typeDefinition: "BaseDataVariableType" });
    return;
  }
  const variable = ns.addVariable({ ...common, typeDefinition: kind });
  if (p.unit)
    ns.addVariable({
      nodeId: `s=${nodeId}/EngineeringUnits`,
      browseName: { name: "EngineeringUnits", namespaceIndex: 0 },
      propertyOf: variable,
      typeDefinition: "PropertyType",
      dataType: "EUInformation",
      accessLevel: "CurrentRead",
      userAccessLevel: "CurrentRead",
      modellingRule: "Mandatory",
      value: { dataType: "ExtensionObject", value: euInformation(p.unit) },
    });
  if (p.range)
    ns.addVariable({
      nodeId: `s=${nodeId}/EURange`,
      browseName: { name: "EURange", namespaceIndex: 0 },
      propertyOf: variable,
      typeDefinition: "PropertyType",
      dataType: "Range",
      accessLevel: "CurrentRead",
      userAccessLevel: "CurrentRead",
      modellingRule: "Mandatory",
      value: { dataType: "ExtensionObject", value: new Range(p.range) },
    });
}
