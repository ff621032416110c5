import type { INamespace } from "node-opcua";
import { NodeId, NodeIdType } from "../shared/node-opcua.js";

/**
 * The string NodeId `id` in `ns`, built as a NodeId rather than the text `s=<id>`: node-opcua parses
 * such text with unanchored patterns, so a topic level holding `ns=1;i=85` or a line break would
 * name another node (or a prefix of its own id) and lock the real device out.
 */
export function stringNodeId(ns: INamespace, id: string): NodeId {
  return new NodeId(NodeIdType.STRING, id, ns.index);
}

/** A browse name taken verbatim: as text, node-opcua reads `3WA/Feeder:1` as namespace 3, name `1`. */
export function browseNameOf(ns: INamespace, name: string): { name: string; namespaceIndex: number } {
  return { name, namespaceIndex: ns.index };
}
