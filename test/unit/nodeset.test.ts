import { readFileSync } from "node:fs";
import {
  AddressSpace,
  type AddressSpace as AddressSpaceT,
  generateAddressSpace,
  NodeClass,
  nodesets,
  type UAObjectType,
  type UAVariable,
} from "node-opcua";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCatalog } from "../../src/model/catalog-loader.js";
import { describePoint, NUMERIC_TYPES, type PointDef } from "../../src/model/catalog-types.js";
import { DEVICE_TYPE_NAME, folderTypeName, MODEL_NAMESPACE_URI } from "../../src/opcua/information-model.js";
import { exportNodeSet } from "../../src/opcua/nodeset-export.js";
import { NODESET_FILE } from "../../src/shared/paths.js";

const catalog = loadCatalog();

/** OPC UA Part 8, 5.6.3: the UNECE common code's characters, most significant first; -1 for none. */
function unitIdOf(code: string | null): number {
  if (code === null) return -1;
  let id = 0;
  for (const c of code) id = (id << 8) | c.charCodeAt(0);
  return id;
}

/** Part 8: AnalogItemType carries an EURange, AnalogUnitType an EngineeringUnits; others neither. */
function expectedType(p: PointDef): string {
  if (!NUMERIC_TYPES.has(p.dataType)) return "BaseDataVariableType";
  if (p.range) return "AnalogItemType";
  return p.unit ? "AnalogUnitType" : "BaseDataVariableType";
}

describe("the committed NodeSet2", () => {
  it("is what the catalog generates today", async () => {
    const generated = await exportNodeSet(catalog);
    const committed = readFileSync(NODESET_FILE, "utf8");
    expect(
      generated === committed,
      `${NODESET_FILE} is out of date with the catalog or the information model: run \`npm run nodeset\` and commit it`,
    ).toBe(true);
  });

  describe("loaded into a fresh address space", () => {
    let addressSpace: AddressSpaceT;
    let ns: number;
    beforeAll(async () => {
      addressSpace = AddressSpace.create();
      await generateAddressSpace(addressSpace, [nodesets.standard, NODESET_FILE]);
      ns = addressSpace.getNamespaceIndex(MODEL_NAMESPACE_URI);
    });
    afterAll(() => addressSpace?.dispose());

    const objectType = (name: string): UAObjectType => {
      const t = addressSpace.findObjectType(name, ns);
      if (!t) throw new Error(`no ObjectType ${name} in ${MODEL_NAMESPACE_URI}`);
      return t;
    };

    it("declares SmartGearDeviceType with the top-level folder of each family", () => {
      expect(ns).toBeGreaterThan(0);
      const device = objectType(DEVICE_TYPE_NAME);
      expect(device.subtypeOfObj?.browseName.name).toBe("BaseObjectType");
      for (const family of catalog.families.values()) {
        const folder = device.getComponentByName(family.name, ns);
        expect(folder?.nodeClass, family.name).toBe(NodeClass.Object);
        expect(folder?.typeDefinitionObj.browseName.name).toBe(folderTypeName([family.name]));
        expect(folder?.modellingRule).toBe("Optional");
      }
    });

    it("nests every folder type under its parent folder type, as FolderType subtypes", () => {
      const paths = new Set(
        catalog.points.flatMap((p) => p.folder.map((_, i) => p.folder.slice(0, i + 1).join("/"))),
      );
      for (const path of paths) {
        const segments = path.split("/");
        const type = objectType(folderTypeName(segments));
        expect(type.subtypeOfObj?.browseName.name, path).toBe("FolderType");
        if (segments.length === 1) continue;
        const parent = objectType(folderTypeName(segments.slice(0, -1)));
        const child = parent.getComponentByName(segments.at(-1)!, ns);
        expect(child?.typeDefinitionObj.nodeId.toString(), path).toBe(type.nodeId.toString());
      }
    });

    it("declares each catalog point in its folder type, typed as the catalog says", () => {
      const checked = new Set<string>();
      for (const p of catalog.points) {
        const where = `${p.topicId} ${p.browsePath}`;
        const node = objectType(folderTypeName(p.folder)).getComponentByName(p.browseName, ns);
        expect(node?.nodeClass, where).toBe(NodeClass.Variable);
        const v = node as UAVariable;
        expect(v.browseName.toString(), where).toBe(`${ns}:${p.browseName}`);
        expect(v.dataType.toString(), where).toBe(addressSpace.findDataType(p.dataType)!.nodeId.toString());
        expect(v.typeDefinitionObj.browseName.name, where).toBe(expectedType(p));
        expect(v.modellingRule, where).toBe("Optional");
        expect(v.description.text, where).toBe(describePoint(p));
        expect(v.accessLevel, where).toBe(p.access === "readWrite" ? 3 : 1);
        checked.add(v.nodeId.toString());
      }
      expect(checked.size).toBe(442);
    });

    it("declares no variable the catalog does not have", () => {
      const byFolder = new Map<string, string[]>();
      for (const p of catalog.points) {
        const key = folderTypeName(p.folder);
        byFolder.set(key, [...(byFolder.get(key) ?? []), p.browseName]);
      }
      for (const [typeName, names] of byFolder) {
        const declared = objectType(typeName)
          .getComponents()
          .filter((c) => c.nodeClass === NodeClass.Variable)
          .map((c) => c.browseName.name!);
        expect(declared.sort(), typeName).toEqual([...names].sort());
      }
    });

    it("gives analog points their EngineeringUnits with the UNECE unitId, and their EURange", () => {
      let units = 0;
      let ranges = 0;
      for (const p of catalog.points) {
        const where = `${p.topicId} ${p.browsePath}`;
        const v = objectType(folderTypeName(p.folder)).getComponentByName(p.browseName, ns) as UAVariable;
        const kind = expectedType(p);
        const eu = v.getPropertyByName("EngineeringUnits");
        const range = v.getPropertyByName("EURange");
        if (kind === "BaseDataVariableType") {
          expect(eu, where).toBeNull();
          expect(range, where).toBeNull();
          continue;
        }
        if (p.unit) {
          expect(eu, where).not.toBeNull();
          expect(eu!.accessLevel, where).toBe(1);
          const info = eu!.readValue().value.value as {
            namespaceUri: string;
            unitId: number;
            displayName: { text: string };
            description: { text: string };
          };
          expect(info.unitId, where).toBe(unitIdOf(p.unit.unece));
          expect(info.displayName.text, where).toBe(p.unit.displayName);
          expect(info.description.text, where).toBe(p.unit.description);
          expect(info.namespaceUri, where).toBe("http://www.opcfoundation.org/UA/units/un/cefact");
          units++;
        } else expect(eu, where).toBeNull();
        if (p.range) {
          expect(range, where).not.toBeNull();
          expect(range!.readValue().value.value, where).toMatchObject({
            low: p.range.low,
            high: p.range.high,
          });
          ranges++;
        } else expect(range, where).toBeNull();
      }
      // Both kinds of property, and the no-UNECE-code case, really occur.
      expect(units).toBeGreaterThan(300);
      expect(ranges).toBeGreaterThan(300);
      expect(catalog.points.some((p) => p.unit && p.unit.unece === null)).toBe(true);
    });

    it("encodes percent as the UNECE code P1 and a unit without code as -1", () => {
      const h01 = objectType("PowerQualityHarmonicsVoltageL1Type").getComponentByName("H01Magnitude", ns);
      const unit = (h01 as UAVariable).getPropertyByName("EngineeringUnits")!.readValue().value.value;
      expect(unit).toMatchObject({ unitId: 0x5031 });
      const varh = catalog.byTopicId.get("11/114")!;
      const v = objectType(folderTypeName(varh.folder)).getComponentByName(varh.browseName, ns) as UAVariable;
      expect(v.getPropertyByName("EngineeringUnits")!.readValue().value.value).toMatchObject({
        unitId: -1,
        displayName: { text: "varh" },
      });
    });
  });
});
