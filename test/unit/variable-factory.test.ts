import type { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import {
  AddressSpace,
  Argument,
  AttributeIds,
  type BaseNode,
  BrowseDirection,
  coerceLocalizedText,
  DataType,
  generateAddressSpace,
  makeAccessLevelFlag,
  makeEUInformation,
  type Namespace,
  NodeId,
  NodeIdType,
  nodesets,
  QualifiedName,
  resolveNodeId,
  StatusCodes,
  type UAObject,
  type UAVariable,
  Variant,
  VariantArrayType,
} from "node-opcua";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { variableModel } from "../../src/opcua/patches/variable-copy.js";
import { VariableFactory, type VariableShape } from "../../src/opcua/patches/variable-factory.js";

const { UAVariableImpl } = createRequire(import.meta.url)(
  "node-opcua-address-space/dist/impl/ua_variable_impl.js",
) as { UAVariableImpl: new (options: object) => UAVariable };

/**
 * The factory builds variables without node-opcua's addVariable. This holds its result against
 * addVariable's for the same options, attribute by attribute and reference by reference, so that
 * a node-opcua upgrade that changes what a variable is made of shows up here.
 */
describe("VariableFactory", () => {
  let addressSpace: AddressSpace;
  let ns: Namespace;
  let folder: UAObject;
  let units: UAVariable;
  let factory: VariableFactory;
  let shape: VariableShape;

  beforeAll(async () => {
    addressSpace = AddressSpace.create();
    await generateAddressSpace(addressSpace, [nodesets.standard]);
    ns = addressSpace.registerNamespace("urn:variable-factory-test");
    folder = ns.addObject({
      nodeId: "s=Folder",
      browseName: "Folder",
      organizedBy: addressSpace.rootFolder.objects,
    });
    const declarations = ns.addObject({
      nodeId: "s=Declarations",
      browseName: "Declarations",
      organizedBy: folder,
    });
    const declaration = ns.addVariable({
      nodeId: "s=Declaration",
      browseName: "VoltageL1",
      componentOf: declarations,
      dataType: "Double",
      typeDefinition: "AnalogUnitType",
    });
    units = ns.addVariable({
      nodeId: "s=Declaration/EngineeringUnits",
      browseName: { name: "EngineeringUnits", namespaceIndex: 0 },
      propertyOf: declaration,
      typeDefinition: "PropertyType",
      dataType: "EUInformation",
      value: { dataType: DataType.ExtensionObject, value: makeEUInformation("VLT", "V", "volt") },
    });
    factory = new VariableFactory(ns);
    shape = {
      browseName: new QualifiedName({ name: "VoltageL1", namespaceIndex: ns.index }),
      displayName: coerceLocalizedText("VoltageL1")!,
      description: coerceLocalizedText("Voltage L1-N")!,
      dataType: resolveNodeId("Double"),
      accessLevel: makeAccessLevelFlag("CurrentRead | CurrentWrite"),
      references: [
        factory.reference("HasTypeDefinition", addressSpace.findVariableType("AnalogUnitType")!),
        factory.reference("HasProperty", units),
      ],
    };
  });
  afterAll(() => addressSpace?.dispose());

  const stringId = (id: string) => new NodeId(NodeIdType.STRING, id, ns.index);
  const viaAddVariable = (id: string) =>
    ns.addVariable({
      nodeId: stringId(id),
      browseName: shape.browseName,
      displayName: shape.displayName,
      description: shape.description,
      componentOf: folder,
      dataType: "Double",
      typeDefinition: "AnalogUnitType",
      minimumSamplingInterval: 0,
      accessLevel: "CurrentRead | CurrentWrite",
      userAccessLevel: "CurrentRead | CurrentWrite",
      references: [{ referenceType: "HasProperty", isForward: true, nodeId: units.nodeId }],
    });
  const ownReferences = (node: BaseNode) =>
    node
      .allReferences()
      .map((r) => `${r.referenceType.toString()} ${r.isForward ? "->" : "<-"} ${r.nodeId.toString()}`)
      .sort();

  it("gives a variable every attribute addVariable gives it", () => {
    const expected = viaAddVariable("11/5/A");
    const built = factory.create(stringId("11/5/B"), shape, folder);
    for (const attributeId of Object.values(AttributeIds).filter((a): a is number => typeof a === "number")) {
      if (attributeId === AttributeIds.NodeId || attributeId === AttributeIds.Value) continue;
      const a = expected.readAttribute(null, attributeId);
      const b = built.readAttribute(null, attributeId);
      expect(b.statusCode, AttributeIds[attributeId]).toEqual(a.statusCode);
      expect(b.value.toString(), AttributeIds[attributeId]).toEqual(a.value.toString());
    }
    expect(built.readValue().statusCode).toEqual(expected.readValue().statusCode);
    expect(built.nodeId.toString()).toBe(`ns=${ns.index};s=11/5/B`);
  });

  it("gives it the references addVariable gives it, and its folder the forward one", () => {
    const expected = viaAddVariable("11/6/A");
    const built = factory.create(stringId("11/6/B"), shape, folder);
    expect(ownReferences(built)).toEqual(ownReferences(expected));
    expect(addressSpace.findNode(built.nodeId)).toBe(built);
    expect(built.parent).toBe(folder);
    expect(built.typeDefinitionObj.browseName.name).toBe("AnalogUnitType");
    expect(built.getChildByName("EngineeringUnits")).toBe(units);
    const children = folder.findReferencesExAsObject("HasComponent", BrowseDirection.Forward);
    // Not toContain: chai formats its operands even when it passes, and node-opcua 2.182's inspect
    // of a node (a Proxy over chalk) throws once the process has used chalk's colours (a file before
    // this one in the same worker, vitest.config.ts: isolate false).
    expect(children.includes(built)).toBe(true);
    expect(children.includes(expected)).toBe(true);
  });

  it("shares the property without an inverse reference per variable", () => {
    const before = units.findReferencesEx("HasProperty", BrowseDirection.Inverse).length;
    for (let i = 0; i < 5; i++) factory.create(stringId(`11/7/${i}`), shape, folder);
    expect(units.findReferencesEx("HasProperty", BrowseDirection.Inverse).length).toBe(before);
    expect(units.parent?.nodeId.toString()).toBe(`ns=${ns.index};s=Declaration`);
  });

  it("gives a catalog folder the attributes and references addObject gives it, and its parent the forward one", () => {
    const type = ns.addObjectType({ browseName: "ProtectionFolderType", subtypeOf: "FolderType" });
    const browseName = new QualifiedName({ name: "Protection", namespaceIndex: ns.index });
    const expected = ns.addObject({
      nodeId: stringId("Devices/A/Protection"),
      browseName,
      componentOf: folder,
      typeDefinition: type,
    });
    const built = factory.createObject(stringId("Devices/B/Protection"), browseName, type, folder);
    for (const attributeId of Object.values(AttributeIds).filter((a): a is number => typeof a === "number")) {
      if (attributeId === AttributeIds.NodeId) continue;
      const a = expected.readAttribute(null, attributeId);
      const b = built.readAttribute(null, attributeId);
      expect(b.statusCode, AttributeIds[attributeId]).toEqual(a.statusCode);
      expect(b.value.toString(), AttributeIds[attributeId]).toEqual(a.value.toString());
    }
    const own = (node: BaseNode, self: NodeId) =>
      ownReferences(node).map((r) => r.replace(self.toString(), "self"));
    expect(own(built, built.nodeId)).toEqual(own(expected, expected.nodeId));
    expect(addressSpace.findNode(built.nodeId)).toBe(built);
    expect(built.parent).toBe(folder);
    expect(built.typeDefinitionObj).toBe(type);
    const components = folder.findReferencesExAsObject("HasComponent", BrowseDirection.Forward);
    expect(components.includes(built)).toBe(true);
    // A variable made below it is its component, as below any folder.
    const child = factory.create(stringId("11/9/B"), shape, built);
    expect(built.getChildByName("VoltageL1", ns.index)).toBe(child);
  });

  it("gives a method, its argument lists and an argument's description what addMethod and addVariable give them", () => {
    const args = (names: string[]) =>
      names.map((name) => ({ name, dataType: DataType.String, valueRank: -1, description: { text: name } }));
    const list = (names: string[]) =>
      new Variant({
        dataType: DataType.ExtensionObject,
        arrayType: VariantArrayType.Array,
        value: args(names).map((a) => new Argument(a)),
      });
    const rolePermissions = [{ roleId: resolveNodeId("i=15656"), permissions: 0x1001 }];
    const browseName = new QualifiedName({ name: "Reset", namespaceIndex: ns.index });
    const description = coerceLocalizedText("Resets the trip. Needs role Operator.")!;
    const expected = ns.addMethod(folder, {
      nodeId: stringId("Devices/A/Reset"),
      browseName,
      description,
      inputArguments: args(["Mode", "CommandId"]),
      outputArguments: args(["Reply"]),
      rolePermissions,
    });
    const expectedId = ns.addVariable({
      nodeId: stringId("Devices/A/Reset/CommandId"),
      browseName: "CommandId",
      description: "the id",
      dataType: DataType.String,
      valueRank: -1,
      value: { dataType: DataType.String, value: "" },
      accessLevel: "CurrentRead",
      userAccessLevel: "CurrentRead",
      rolePermissions,
    });
    expected.addReference({
      referenceType: "HasOptionalInputArgumentDescription",
      nodeId: expectedId.nodeId,
      isForward: true,
    });
    const built = factory.createMethod(
      stringId("Devices/B/Reset"),
      {
        browseName,
        description,
        rolePermissions,
        inputArguments: list(["Mode", "CommandId"]),
        outputArguments: list(["Reply"]),
      },
      folder,
    );
    const builtId = factory.createFixed(
      stringId("Devices/B/Reset/CommandId"),
      {
        browseName: new QualifiedName({ name: "CommandId", namespaceIndex: ns.index }),
        description: coerceLocalizedText("the id")!,
        dataType: resolveNodeId("String"),
        valueRank: -1,
        arrayDimensions: null,
        minimumSamplingInterval: 0,
        references: [
          factory.reference("HasTypeDefinition", addressSpace.findVariableType("BaseDataVariableType")!),
        ],
        rolePermissions,
        value: new Variant({ dataType: DataType.String, value: "" }),
      },
      built,
      "HasOptionalInputArgumentDescription",
    );
    // Each node against its twin, NodeIds read with A for B.
    const same = (a: BaseNode, b: BaseNode) => {
      const ids = (node: BaseNode) => ownReferences(node).map((r) => r.replace("Devices/B/", "Devices/A/"));
      for (const attributeId of Object.values(AttributeIds).filter(
        (x): x is number => typeof x === "number",
      )) {
        const x = a.readAttribute(null, attributeId);
        const y = b.readAttribute(null, attributeId);
        expect(y.statusCode, AttributeIds[attributeId]).toEqual(x.statusCode);
        expect(y.value.toString().replace("Devices/B/", "Devices/A/"), AttributeIds[attributeId]).toEqual(
          x.value.toString(),
        );
      }
      // Mandatory gets no inverse reference from each argument list (a shared target, as above).
      expect(ids(b)).toEqual(ids(a));
      expect(addressSpace.findNode(b.nodeId)).toBe(b);
    };
    same(expected, built);
    for (const name of ["InputArguments", "OutputArguments"] as const) {
      const list = (m: typeof built) => (name === "InputArguments" ? m.inputArguments : m.outputArguments)!;
      const a = list(expected);
      const b = list(built);
      expect(b.nodeId.toString()).toBe(`ns=${ns.index};s=Devices/B/Reset-${name}`);
      same(a, b);
      expect(b.parent).toBe(built);
    }
    same(expectedId, builtId);
    expect(built.parent).toBe(folder);
    expect(built.inputArguments?.readValue().value.value.map((a: Argument) => a.name)).toEqual([
      "Mode",
      "CommandId",
    ]);
    expect(folder.findReferencesExAsObject("HasComponent", BrowseDirection.Forward)).toContain(built);
  });

  it("notifies value changes like any variable, and refuses a NodeId already taken", () => {
    const built = factory.create(stringId("11/8/B"), shape, folder);
    const seen: number[] = [];
    built.on("value_changed", (dv) => seen.push(dv.value.value));
    built.setValueFromSource({ dataType: DataType.Double, value: 231.5 }, StatusCodes.Good);
    expect(seen).toEqual([231.5]);
    expect(built.readValue().value.value).toBe(231.5);
    expect(() => factory.create(stringId("11/8/B"), shape, folder)).toThrow(/already registered/);
  });
  it("makes the variables of one shape as copies that share nothing a variable changes", () => {
    const other = ns.addObject({ nodeId: "s=Other", browseName: "Other", organizedBy: folder });
    const a = factory.create(stringId("11/19/A"), shape, folder);
    const b = factory.create(stringId("11/19/B"), shape, other);
    const seen: string[] = [];
    a.on("value_changed", () => seen.push("a"));
    b.on("value_changed", () => seen.push("b"));
    a.setValueFromSource({ dataType: DataType.Double, value: 1 }, StatusCodes.Good);
    b.setValueFromSource({ dataType: DataType.Double, value: 2 }, StatusCodes.Good);
    expect(seen).toEqual(["a", "b"]);
    expect([a.readValue().value.value, b.readValue().value.value]).toEqual([1, 2]);
    // A copy gets its listener table with its first listener; until then it emits to no one.
    const c = factory.create(stringId("11/19/D"), shape, folder);
    expect([c.listenerCount("value_changed"), (c as unknown as EventEmitter).eventNames()]).toEqual([0, []]);
    c.setValueFromSource({ dataType: DataType.Double, value: 3 }, StatusCodes.Good);
    c.once("value_changed", () => seen.push("c"));
    c.setValueFromSource({ dataType: DataType.Double, value: 4 }, StatusCodes.Good);
    a.removeAllListeners();
    a.setValueFromSource({ dataType: DataType.Double, value: 5 }, StatusCodes.Good);
    expect(seen).toEqual(["a", "b", "c"]);
    expect([a.parent, b.parent]).toEqual([folder, other]);
    expect(ownReferences(a)).not.toEqual(ownReferences(b));
    expect(a.nodeId.toString()).toBe(`ns=${ns.index};s=11/19/A`);
    // A write attribute of one (its description) is not the other's.
    a.setDescription(coerceLocalizedText("changed")!);
    expect(b.description.text).toBe("Voltage L1-N");
    // Fields the constructor sets, and no others: variable-copy.ts follows node-opcua's class.
    const constructed = viaAddVariable("11/19/C");
    const names = (o: object) => Reflect.ownKeys(o).map((k) => (typeof k === "symbol" ? String(k) : k));
    expect(names(a).sort()).toEqual(names(b).sort());
    expect(names(constructed).filter((k) => !names(a).includes(k))).toEqual([]);
    expect(a).toBeInstanceOf(UAVariableImpl);
    expect(Object.hasOwn(a, "nodeId") && Object.hasOwn(a, "nodeClass")).toBe(true);
    expect(a.nodeClass).toBe(constructed.nodeClass);
  });

  it("refuses to copy a variable with a field node-opcua did not have when this was written", () => {
    // As the factory makes a model: constructed, not registered (addVariable's lookups fill caches).
    const made = () =>
      new UAVariableImpl({
        addressSpace,
        nodeId: stringId("model"),
        browseName: shape.browseName,
        dataType: shape.dataType,
        references: [],
      });
    expect(() => variableModel(made())).not.toThrow();
    const extra = made() as unknown as Record<string, unknown>;
    extra.cache = {};
    expect(() => variableModel(extra as unknown as UAVariable)).toThrow(/fields/);
    const listened = made();
    listened.on("value_changed", () => {});
    expect(() => variableModel(listened)).toThrow(/listeners/);
  });
});
