import type {
  AddressSpace,
  Namespace,
  NodeId,
  OPCUAServer,
  UAFolder,
  UAObject,
  UAObjectType,
  UAVariable,
} from "node-opcua";
import { AGGREGATES, type AggregateName, DEFAULT_AGGREGATE_CONFIG } from "../mapping/aggregates.js";
import type { PointDef } from "../model/catalog-types.js";
import {
  coerceQualifiedName,
  DataType,
  ObjectIds,
  ObjectTypeIds,
  resolveNodeId,
} from "../shared/node-opcua.js";
import { passTimestampsToReturn } from "./patches/history-read-hook.js";

/** The standard AggregateFunction objects (Part 13 4.2.2) of the aggregates the gateway computes. */
const AGGREGATE_IDS: Record<AggregateName, number> = {
  Interpolative: ObjectIds.AggregateFunction_Interpolative,
  Average: ObjectIds.AggregateFunction_Average,
  TimeAverage: ObjectIds.AggregateFunction_TimeAverage,
  Minimum: ObjectIds.AggregateFunction_Minimum,
  Maximum: ObjectIds.AggregateFunction_Maximum,
  Count: ObjectIds.AggregateFunction_Count,
  Start: ObjectIds.AggregateFunction_Start,
  End: ObjectIds.AggregateFunction_End,
  Delta: ObjectIds.AggregateFunction_Delta,
};

/** The aggregate a ReadProcessedDetails names, or null: one the gateway does not compute. */
export function aggregateOf(nodeId: NodeId | undefined): AggregateName | null {
  if (nodeId?.namespace !== 0) return null;
  return AGGREGATES.find((a) => AGGREGATE_IDS[a] === nodeId.value) ?? null;
}

/** Adds an Organizes reference from `folder` to each supported AggregateFunction object. */
function organizeAggregates(folder: UAObject): void {
  for (const id of Object.values(AGGREGATE_IDS))
    folder.addReference({ referenceType: "Organizes", nodeId: resolveNodeId(id) });
}

/**
 * What Server/ServerCapabilities says of history (Part 11 5.4.2, Part 13 4.4): data history is
 * read (raw, processed, at time), never written; its AggregateFunctions folders, and
 * ServerCapabilities' own, organize the aggregates computed. node-opcua binds the capability
 * variables to `engine.historyServerCapabilities` (all false until set). Also has node-opcua hand
 * each history read the request's TimestampsToReturn (patches/history-read-hook.ts).
 */
export function advertiseHistory(server: OPCUAServer): void {
  Object.assign(server.engine.historyServerCapabilities, {
    accessHistoryDataCapability: true,
    accessHistoryEventsCapability: false,
    // No limit for raw reads; processed and at-time reads page by history.maxProcessedValues.
    maxReturnDataValues: 0,
    maxReturnEventValues: 0,
    insertDataCapability: false,
    replaceDataCapability: false,
    updateDataCapability: false,
    deleteRawCapability: false,
    deleteAtTimeCapability: false,
    insertEventCapability: false,
    replaceEventCapability: false,
    updateEventCapability: false,
    deleteEventCapability: false,
    insertAnnotationCapability: false,
  });
  passTimestampsToReturn((server.engine as unknown as { addressSpaceAccessor: object }).addressSpaceAccessor);
  const addressSpace = server.engine.addressSpace!;
  for (const id of [
    ObjectIds.Server_ServerCapabilities_AggregateFunctions,
    ObjectIds.HistoryServerCapabilities_AggregateFunctions,
  ]) {
    const folder = addressSpace.findNode(resolveNodeId(id)) as UAObject | null;
    if (folder) organizeAggregates(folder);
  }
}

/** How a value moves between two stored values (Part 11 5.2.2 Stepped). */
type Kind = "Analog" | "Discrete";

/** Float and Double move continuously; Booleans, integer codes, strings and times hold until the next value. */
function kindOf(type: DataType): Kind {
  return type === DataType.Double || type === DataType.Float ? "Analog" : "Discrete";
}

const DEFINITIONS: Record<Kind, string> = {
  Analog:
    "Mirrored from MQTT: every value the variable showed and every status change; sloped between values",
  Discrete:
    "Mirrored from MQTT: every value the variable showed and every status change; each value holds until the next",
};

/**
 * The HA Configuration objects (Part 11 5.2.2, 5.2.4) of the historized variables: one per kind,
 * shared, each referenced from every variable of its kind by HasHistoricalConfiguration. An object
 * a variable (six nodes, ~20 KB) would cost 100,000 points 2 GB; a reference costs a few bytes.
 * The reference is one of the shared ones DeviceNodes gives a point's variables (like HasProperty
 * there): addReference per variable cost ~15 µs (a model-change check, a NodeVersion lookup, an
 * inverse reference) and 1.5 s of a 100,000-point start, and gave each HA Configuration 50,000
 * inverse references that no client browses.
 */
export class HistoryConfigurations {
  private readonly nodes: Record<Kind, UAObject>;

  constructor(ns: Namespace, parent: UAFolder) {
    const addressSpace = ns.addressSpace as AddressSpace;
    const folder = ns.addFolder(parent, {
      nodeId: "s=HistoryConfigurations",
      browseName: "HistoryConfigurations",
    });
    const type = addressSpace.findNode(
      resolveNodeId(ObjectTypeIds.HistoricalDataConfigurationType),
    ) as UAObjectType;
    const make = (kind: Kind): UAObject => {
      // Its own object a kind, so that each "HA Configuration" (the name Part 11 5.2.4 gives it) has a parent of its own.
      const holder = ns.addObject({
        organizedBy: folder,
        nodeId: `s=HistoryConfigurations/${kind}`,
        browseName: kind,
      });
      const config = type.instantiate({
        browseName: coerceQualifiedName({ name: "HA Configuration", namespaceIndex: 0 }),
        displayName: `${kind} values`,
        namespace: ns,
        nodeId: `ns=${ns.index};s=HistoryConfigurations/${kind}/HA Configuration`,
        componentOf: holder,
        optionals: [
          "AggregateFunctions",
          "Definition",
          "MinTimeInterval",
          "ExceptionDeviation",
          "ExceptionDeviationFormat",
          "ServerTimestampSupported",
        ],
      }) as UAObject;
      const set = (path: string[], dataType: DataType, value: unknown) => {
        let node: UAObject | UAVariable = config;
        for (const name of path) node = node.getChildByName(name) as UAObject | UAVariable;
        (node as UAVariable).setValueFromSource({ dataType, value });
      };
      set(["Stepped"], DataType.Boolean, kind === "Discrete");
      set(["Definition"], DataType.String, DEFINITIONS[kind]);
      // Every change is stored (no deadband, no minimum time between values).
      set(["MinTimeInterval"], DataType.Double, 0);
      set(["ExceptionDeviation"], DataType.Double, 0);
      set(["ExceptionDeviationFormat"], DataType.Int32, 0);
      set(["ServerTimestampSupported"], DataType.Boolean, true);
      const c = DEFAULT_AGGREGATE_CONFIG;
      set(["AggregateConfiguration", "TreatUncertainAsBad"], DataType.Boolean, c.treatUncertainAsBad);
      set(["AggregateConfiguration", "PercentDataBad"], DataType.Byte, c.percentDataBad);
      set(["AggregateConfiguration", "PercentDataGood"], DataType.Byte, c.percentDataGood);
      set(["AggregateConfiguration", "UseSlopedExtrapolation"], DataType.Boolean, c.useSlopedExtrapolation);
      organizeAggregates(config.getChildByName("AggregateFunctions") as UAObject);
      return config;
    };
    this.nodes = { Analog: make("Analog"), Discrete: make("Discrete") };
  }

  /** The HA Configuration of a point's variables: its data type's kind's. */
  of(point: PointDef): UAObject {
    return this.nodes[kindOf(DataType[point.dataType])];
  }

  /** The variable's HA Configuration's Stepped. */
  stepped(variable: UAVariable): boolean {
    return kindOf(variable.getBasicDataType()) === "Discrete";
  }
}
