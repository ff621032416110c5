import {
  AddressSpace,
  BrowseDirection,
  generateAddressSpace,
  makeBrowsePath,
  type Namespace,
  NodeId,
  NodeIdType,
  nodesets,
} from "node-opcua";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { conditionDeviceKey } from "../../src/opcua/alarm-nodes.js";
import { deviceKeyOfNodeId } from "../../src/opcua/device-nodes.js";
import { beforeNodeLookup } from "../../src/opcua/patches/node-lookup.js";

/**
 * The hook that makes restored devices when first named (README, History: continuity): every
 * lookup of node-opcua's address space by NodeId (findNode, Browse, TranslateBrowsePath) passes
 * the devices namespace's string ids to it first, so that a node made there is found.
 */
describe("beforeNodeLookup (patches/node-lookup.ts)", () => {
  let addressSpace: AddressSpace;
  let ns: Namespace;
  let other: Namespace;

  beforeAll(async () => {
    addressSpace = AddressSpace.create();
    await generateAddressSpace(addressSpace, [nodesets.standard]);
    ns = addressSpace.registerNamespace("urn:node-lookup-test");
    other = addressSpace.registerNamespace("urn:node-lookup-other");
  });
  afterAll(() => addressSpace.dispose());

  it("makes a node when it is looked up, in its namespace only, by string id; released, lookups are the prototype's again", () => {
    const named: string[] = [];
    let made = false;
    const release = beforeNodeLookup(ns, (id) => {
      named.push(id);
      // Once, as the mirror takes a device off its list before making it (its own lookups pass here too).
      if (id !== "Made/Later" || made) return;
      made = true;
      ns.addObject({
        nodeId: "s=Made/Later",
        browseName: "Later",
        organizedBy: addressSpace.rootFolder.objects,
      });
    });
    try {
      // The address space's findNode (Read, Write, Call, CreateMonitoredItems, HistoryRead).
      const node = addressSpace.findNode(new NodeId(NodeIdType.STRING, "Made/Later", ns.index));
      expect(node?.browseName.name).toBe("Later");
      // Browse of a node, and TranslateBrowsePath through one.
      const browsed = addressSpace.browseSingleNode(new NodeId(NodeIdType.STRING, "Made/Later", ns.index), {
        browseDirection: BrowseDirection.Inverse,
        includeSubtypes: true,
        resultMask: 63,
        nodeClassMask: 0,
      } as never);
      expect(browsed.references?.length).toBeGreaterThan(0);
      expect(addressSpace.browsePath(makeBrowsePath("i=85", `/${ns.index}:Later`)).statusCode.name).toBe(
        "Good",
      );
      // Other namespaces and numeric ids are not passed.
      addressSpace.findNode(new NodeId(NodeIdType.STRING, "Elsewhere", other.index));
      addressSpace.findNode(new NodeId(NodeIdType.NUMERIC, 12, ns.index));
      expect(new Set(named)).toEqual(new Set(["Made/Later"]));
      expect(() => beforeNodeLookup(ns, () => {})).toThrow(/hooked already/);
    } finally {
      release();
    }
    named.length = 0;
    expect(addressSpace.findNode(new NodeId(NodeIdType.STRING, "Made/Later", ns.index))).not.toBeNull();
    expect(named).toEqual([]);
    expect(Object.hasOwn(ns, "findNode2")).toBe(false);
  });

  it("names the device of a point's topic and of the nodes at and below its device object, and no other", () => {
    expect(deviceKeyOfNodeId("11/5/3WA/Feeder 01/ETU")).toBe("3WA/Feeder 01/ETU");
    expect(deviceKeyOfNodeId("Devices/3WA/Feeder 01/ETU")).toBe("3WA/Feeder 01/ETU");
    expect(deviceKeyOfNodeId("Devices/3WA/Feeder 01/ETU/PowerQuality/Voltage")).toBe("3WA/Feeder 01/ETU");
    expect(deviceKeyOfNodeId("Devices/3WA/Feeder 01")).toBeNull();
    expect(deviceKeyOfNodeId("Devices/3WA")).toBeNull();
    expect(deviceKeyOfNodeId("Gateway/Devices/3WA/Feeder 01/ETU/LastSeen")).toBeNull();
    expect(deviceKeyOfNodeId("SmartGear")).toBeNull();
    expect(conditionDeviceKey("ns=2;s=Devices/3WA/Feeder 01/ETU/Conditions/Phase1MaxTempAlarm")).toBe(
      "3WA/Feeder 01/ETU",
    );
  });
});
