import type {
  AddressSpace,
  BrowsePath,
  ContentFilter,
  FilterContext,
  SimpleAttributeOperand,
  StatusCode,
  UAObjectType,
} from "node-opcua";
import {
  AttributeIds,
  checkFilter,
  DataType,
  EventFilter,
  FilterOperator,
  NodeClass,
  NodeId,
  NodeIdType,
  ObjectTypeIds,
  resolveNodeId,
  StatusCodes,
  Variant,
  validateContentFilter,
} from "../shared/node-opcua.js";
import { type EventFields, fieldKey } from "./event-fields.js";

/** One stored event as the filter sees it: its type, its condition (or ""), its fields. */
export interface StoredEventView {
  type: string;
  condition: string;
  fields: EventFields;
}

/**
 * The where-clause operators node-opcua's checkFilter evaluates (node-opcua-service-filter 2.182);
 * it answers false for the others (IsNull, Like, Cast, BitwiseAnd, BitwiseOr, InView, RelatedTo).
 */
const EVALUATED = new Set([
  FilterOperator.Equals,
  FilterOperator.LessThan,
  FilterOperator.LessThanOrEqual,
  FilterOperator.GreaterThan,
  FilterOperator.GreaterThanOrEqual,
  FilterOperator.Between,
  FilterOperator.And,
  FilterOperator.Or,
  FilterOperator.Not,
  FilterOperator.OfType,
  FilterOperator.InList,
]);

const BASE_EVENT_TYPE = resolveNodeId(ObjectTypeIds.BaseEventType);
const CONDITION_TYPE = resolveNodeId(ObjectTypeIds.ConditionType);
/** Stand-ins for the stored event and its fields in FilterContext: string ids of namespace 0, which holds none. */
const EVENT_NODE = new NodeId(NodeIdType.STRING, "journal:event", 0);
const FIELD_PREFIX = "journal:field:";

/**
 * An EventFilter applied to stored events (HistoryRead of events, Part 11 6.4.2): the select
 * clause gives each event's fields in order, the where clause which events are returned.
 */
export class StoredEventFilter {
  private constructor(
    private readonly addressSpace: AddressSpace,
    private readonly select: readonly SimpleAttributeOperand[],
    private readonly where: ContentFilter | null,
  ) {}

  /**
   * The filter, or the status that refuses it: no select clause (Part 4 7.22.3: BadEventFilterInvalid);
   * a malformed where clause, or one with an operator not evaluated here: BadContentFilterInvalid
   * (a HistoryRead result has no ContentFilterResult to say which element, Part 11 6.6.4).
   */
  static of(addressSpace: AddressSpace, filter: unknown): StoredEventFilter | StatusCode {
    if (!(filter instanceof EventFilter) || !filter.selectClauses || filter.selectClauses.length === 0)
      return StatusCodes.BadEventFilterInvalid;
    const where = filter.whereClause?.elements?.length ? filter.whereClause : null;
    if (where) {
      if (!validateContentFilter(where).isGood()) return StatusCodes.BadContentFilterInvalid;
      if (!where.elements!.every((e) => EVALUATED.has(e.filterOperator)))
        return StatusCodes.BadContentFilterInvalid;
    }
    return new StoredEventFilter(addressSpace, filter.selectClauses, where);
  }

  /** The selected fields of `event`, or null when the where clause leaves it out. */
  apply(event: StoredEventView): Variant[] | null {
    if (this.where && !checkFilter(this.context(event), this.where)) return null;
    return this.select.map((clause) => this.selectField(clause, event));
  }

  /**
   * Part 4 7.22.3 and 7.4.4.5: a field of an event not of the clause's type, or that the event
   * does not have, is a null Variant; the ConditionId is asked for as the NodeId attribute of
   * ConditionType with an empty browse path (Part 9 5.5.2).
   */
  private selectField(clause: SimpleAttributeOperand, event: StoredEventView): Variant {
    const typeId = clause.typeDefinitionId?.isEmpty() ? BASE_EVENT_TYPE : clause.typeDefinitionId;
    if (!this.isSubtypeOf(resolveNodeId(event.type), typeId)) return new Variant();
    const path = clause.browsePath ?? [];
    if (path.length === 0 && clause.attributeId === AttributeIds.NodeId)
      return event.condition && this.isSubtypeOf(typeId, CONDITION_TYPE)
        ? new Variant({ dataType: DataType.NodeId, value: resolveNodeId(event.condition) })
        : new Variant();
    if (clause.attributeId !== AttributeIds.Value) return new Variant();
    return event.fields.get(fieldKey(path)) ?? new Variant();
  }

  private isSubtypeOf(type: NodeId, base: NodeId): boolean {
    if (type.toString() === base.toString()) return true;
    const node = this.addressSpace.findNode(type) as UAObjectType | null;
    const baseNode = this.addressSpace.findNode(base) as UAObjectType | null;
    return !!node && !!baseNode && typeof node.isSubtypeOf === "function" && node.isSubtypeOf(baseNode);
  }

  /**
   * What node-opcua's checkFilter asks of an event: here the stored event stands as a node of its
   * event type, and each field it has as a variable below it (the empty path: its ConditionId).
   */
  private context(event: StoredEventView): FilterContext {
    const fieldOf = (id: NodeId) =>
      id.identifierType === NodeIdType.STRING &&
      id.namespace === 0 &&
      String(id.value).startsWith(FIELD_PREFIX)
        ? String(id.value).slice(FIELD_PREFIX.length)
        : null;
    return {
      eventSource: EVENT_NODE,
      isSubtypeOf: (type, base) => this.isSubtypeOf(type, base),
      getTypeDefinition: (id) => (id.toString() === EVENT_NODE.toString() ? resolveNodeId(event.type) : null),
      getNodeClass: (id) => {
        if (id.toString() === EVENT_NODE.toString()) return NodeClass.Object;
        if (fieldOf(id) !== null) return NodeClass.Variable;
        return this.addressSpace.findNode(id)?.nodeClass ?? NodeClass.Unspecified;
      },
      readNodeValue: (id) => {
        const key = fieldOf(resolveNodeId(id));
        if (key === "")
          return event.condition
            ? new Variant({ dataType: DataType.NodeId, value: resolveNodeId(event.condition) })
            : new Variant();
        return (key !== null && event.fields.get(key)) || new Variant();
      },
      browsePath: (browsePath: BrowsePath) => {
        const key = fieldKey((browsePath.relativePath.elements ?? []).map((e) => e.targetName));
        if (key === "" ? !event.condition : !event.fields.has(key)) return null;
        return new NodeId(NodeIdType.STRING, `${FIELD_PREFIX}${key}`, 0);
      },
    };
  }
}
