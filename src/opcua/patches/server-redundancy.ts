import type { AddressSpace, UAObject, UAVariable } from "node-opcua";
import {
  DataType,
  ObjectIds,
  ObjectTypeIds,
  resolveNodeId,
  VariableIds,
  VariantArrayType,
} from "../../shared/node-opcua.js";

/** RedundancySupport HOT_3 (the enumeration i=851, Part 5 12.5): every member serves live data. */
const REDUNDANCY_SUPPORT_HOT = 3;

/**
 * Makes Server/ServerRedundancy a NonTransparentRedundancyType (Part 5 6.3.9) with RedundancySupport
 * Hot and the set's ServerUriArray, which holds the local server too (Part 5 6.3.9).
 *
 * node-opcua 2.182 loads it from the standard nodeset as a ServerRedundancyType with
 * RedundancySupport None and has no server-side redundancy: the node keeps its NodeId (i=2296,
 * which clients read directly), its type definition reference is replaced, and the standard's own
 * ServerUriArray node (i=11314, present in the nodeset without a parent) becomes its property.
 */
export function declareHotRedundancy(addressSpace: AddressSpace, serverUris: readonly string[]): void {
  const redundancy = addressSpace.findNode(resolveNodeId(ObjectIds.Server_ServerRedundancy)) as UAObject;
  redundancy.removeReference({
    referenceType: "HasTypeDefinition",
    isForward: true,
    nodeId: redundancy.typeDefinition,
  });
  redundancy.addReference({
    referenceType: "HasTypeDefinition",
    isForward: true,
    nodeId: resolveNodeId(ObjectTypeIds.NonTransparentRedundancyType),
  });
  const support = addressSpace.findNode(
    resolveNodeId(VariableIds.Server_ServerRedundancy_RedundancySupport),
  ) as UAVariable;
  support.setValueFromSource({ dataType: DataType.Int32, value: REDUNDANCY_SUPPORT_HOT });
  const uris = addressSpace.findNode(
    resolveNodeId(VariableIds.Server_ServerRedundancy_ServerUriArray),
  ) as UAVariable;
  redundancy.addReference({ referenceType: "HasProperty", isForward: true, nodeId: uris.nodeId });
  uris.setValueFromSource({
    dataType: DataType.String,
    arrayType: VariantArrayType.Array,
    value: [...serverUris],
  });
}

/**
 * Server/ServiceLevel as a value the gateway sets, returning its setter.
 *
 * node-opcua 2.182 binds it to a getter that answers 255 whatever the server's state (ServerEngine
 * bindStandardScalar); a value read through a getter reaches monitored items only by timer sampling.
 * Rebound to a plain value (bindVariable with overwrite), each change is written once and sent to
 * every monitored item at once (Part 4 6.6.2.4.2: a client fails over on its change).
 */
export function bindServiceLevel(addressSpace: AddressSpace, initial: number): (level: number) => void {
  const node = addressSpace.findNode(resolveNodeId(VariableIds.Server_ServiceLevel)) as UAVariable;
  node.bindVariable({ dataType: DataType.Byte, value: initial }, true);
  return (level) => node.setValueFromSource({ dataType: DataType.Byte, value: level });
}
