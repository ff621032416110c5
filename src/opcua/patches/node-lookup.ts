import type { BaseNode, INamespace, NodeId } from "node-opcua";
import { NodeIdType } from "../../shared/node-opcua.js";

interface Lookup {
  findNode2(nodeId: NodeId): BaseNode | null;
}

/**
 * Calls `before` with the id of every string NodeId looked up in `ns`, before it is looked up, so
 * that a node can be made when first named (restored devices, README History: continuity). Returns
 * what removes the hook again.
 *
 * Every lookup by NodeId in node-opcua 2.182, whatever the service (Read, Write, Browse,
 * BrowseNext, TranslateBrowsePathsToNodeIds, RegisterNodes, CreateMonitoredItems, Call,
 * HistoryRead), ends in the node's namespace's `findNode2`: the address space's `findNode` and the
 * engine's AddressSpaceAccessor both call it. The hook is an own property of this one namespace
 * object, over the prototype's method; ns=0 and the model's namespace do not pay for it.
 */
export function beforeNodeLookup(ns: INamespace, before: (id: string) => void): () => void {
  const lookup = ns as unknown as Lookup;
  const find = lookup.findNode2;
  if (typeof find !== "function" || find.length !== 1 || Object.hasOwn(lookup, "findNode2"))
    throw new Error("node-lookup: the namespace's findNode2 is not node-opcua 2.182's, or is hooked already");
  lookup.findNode2 = function (this: Lookup, nodeId: NodeId) {
    if (nodeId.identifierType === NodeIdType.STRING) before(nodeId.value as string);
    return find.call(this, nodeId);
  };
  return () => {
    delete (lookup as Partial<Lookup>).findNode2;
  };
}
