import type { INamespace, LocalizedText, UAObjectType } from "node-opcua";
import { type Catalog, describePoint, NUMERIC_TYPES, type PointDef } from "../model/catalog-types.js";
import {
  coerceLocalizedText,
  DataType,
  makeAccessLevelFlag,
  QualifiedName,
  Range,
  resolveNodeId,
  Variant,
} from "../shared/node-opcua.js";
import { euInformation } from "./engineering-units.js";
import { stringNodeId } from "./node-ids.js";
import { type SharedReference, VariableFactory } from "./patches/variable-factory.js";

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

/** What every point declaration shares: its type definition, its modelling rule, its properties' two. */
interface SharedDeclarationReferences {
  types: ReadonlyMap<VariableKind, SharedReference>;
  optional: SharedReference;
  /** PropertyType and Mandatory. */
  property: readonly SharedReference[];
}

/** As internalCreateNode gives a node made without a description: an empty text. */
const EMPTY_TEXT = coerceLocalizedText("") ?? ({ text: "" } as LocalizedText);

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

  const factory = new VariableFactory(ns);
  const addressSpace = ns.addressSpace;
  const kinds: VariableKind[] = ["AnalogItemType", "AnalogUnitType", "BaseDataVariableType"];
  const shared: SharedDeclarationReferences = {
    types: new Map(
      kinds.map((k) => [k, factory.reference("HasTypeDefinition", addressSpace.findVariableType(k)!)]),
    ),
    // i=80: the Optional modelling rule.
    optional: factory.reference("HasModellingRule", addressSpace.findNode("i=80")!),
    property: factory.mandatoryProperty,
  };
  for (const p of catalog.points) {
    const owner = folderTypes.get(p.folder.join("/"))!;
    addPointDeclaration(ns, factory, shared, owner, `${folderTypeName(p.folder)}/${p.browseName}`, p);
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

/**
 * A point's declaration (Optional) in its folder's type, with its EngineeringUnits and EURange
 * (Mandatory), through the variable factory: addVariable cost ~0.3 ms each, ~0.3 s for the catalog's
 * ~1,100 variables at every start (test/unit/nodeset.test.ts holds the NodeSet2 it gives).
 */
function addPointDeclaration(
  ns: INamespace,
  factory: VariableFactory,
  shared: SharedDeclarationReferences,
  owner: UAObjectType,
  nodeId: string,
  p: PointDef,
): void {
  const kind = variableKind(p);
  const variable = factory.create(
    stringNodeId(ns, nodeId),
    {
      browseName: new QualifiedName({ name: p.browseName, namespaceIndex: ns.index }),
      displayName: coerceLocalizedText(p.browseName)!,
      description: coerceLocalizedText(describePoint(p))!,
      dataType: resolveNodeId(p.dataType),
      accessLevel: makeAccessLevelFlag(accessLevelOf(p)),
      references: [shared.types.get(kind)!, shared.optional],
    },
    owner,
  );
  const property = (name: string, dataType: string, value: object) =>
    factory.createFixed(
      stringNodeId(ns, `${nodeId}/${name}`),
      {
        browseName: new QualifiedName({ name, namespaceIndex: 0 }),
        description: EMPTY_TEXT,
        dataType: resolveNodeId(dataType),
        valueRank: -1,
        arrayDimensions: null,
        minimumSamplingInterval: 0,
        references: shared.property,
        value: new Variant({ dataType: DataType.ExtensionObject, value }),
      },
      variable,
      "HasProperty",
    );
  if (kind === "BaseDataVariableType") return;
  if (p.unit) property("EngineeringUnits", "EUInformation", euInformation(p.unit));
  if (p.range) property("EURange", "Range", new Range(p.range));
}
