/**
 * The event journal's records as the history store keeps them and the OPC UA side reads them
 * (README, History: event history). Here, below both, because neither adapter may import the other
 * (the dependency rule): opcua/ packs the fields, history/ stores them opaque.
 */

/** One event; a few a second at most, so cloned to the history thread rather than packed. */
export interface JournalEvent {
  /** Time and ReceiveTime, epoch ms. */
  time: number;
  receiveTime: number;
  /** SourceNode and EventType as NodeId text; ConditionId, "" for an event of no condition. */
  source: string;
  type: string;
  condition: string;
  severity: number;
  /** Every field, packed by the OPC UA side (opcua/event-fields.ts). */
  fields: Uint8Array;
  /**
   * A condition's event: true while the condition is active, unacknowledged or unconfirmed (kept
   * for a restart), false once it is none of these; null for another event.
   */
  open: boolean | null;
}

/** A page of stored events in [from, to] (epoch ms, both inclusive), by Time then arrival. */
export interface JournalQuery {
  /** Events of this SourceNode (NodeId text); null: every event. */
  source: string | null;
  from: number;
  to: number;
  forward: boolean;
  /** Where the previous page ended: events after it (in the read's order) only. */
  after: { t: number; id: number } | null;
  /** At most this many; 0: all. */
  limit: number;
}

/** One stored event as a read returns it: its row id and time (for the next page), type, condition, fields. */
export interface JournalRow {
  id: number;
  t: number;
  type: string;
  condition: string;
  fields: Uint8Array;
}
