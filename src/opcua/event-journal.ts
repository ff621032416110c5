import type { AddressSpace, BaseNode, IEventData, QualifiedName, UAObject, UAVariable } from "node-opcua";
import type { Logger } from "../shared/logger.js";
import { NodeClass } from "../shared/node-opcua.js";
import { RateLimitedLog } from "../shared/rate-limited-log.js";
import { type EventFields, fieldKey, fieldsOf, packFields } from "./event-fields.js";
import type { JournalPort } from "./ports.js";

/**
 * Records every event that reaches the Server object (all of them do, Part 3 5.4: the Server is
 * the root of the notifier hierarchy) into the history store's journal: alarm activations,
 * returns to normal, acknowledgements and confirms with who and the comment, device health, and
 * the audit events of commands (README, History: event history).
 *
 * A ConditionRefresh sends each retained condition's current state again, with its EventId
 * unchanged (Part 9 5.5.7): that is no new event, and is not recorded twice.
 */
export class EventJournal {
  /** Per condition, the EventId of its last event recorded (one entry a condition ever raised). */
  private readonly lastEventIds = new Map<string, string>();
  private readonly log: RateLimitedLog;
  private readonly server: UAObject;
  private readonly listener = (eventData: IEventData) => this.record(eventData);

  constructor(
    addressSpace: AddressSpace,
    private readonly port: JournalPort,
    logger: Logger,
  ) {
    this.server = addressSpace.rootFolder.objects.server;
    this.log = new RateLimitedLog(logger);
  }

  start(): void {
    this.server.on("event", this.listener);
  }

  stop(): void {
    this.server.removeListener("event", this.listener);
  }

  /** A condition restored at start: its current EventId is one the journal already has. */
  known(condition: string, eventId: Buffer): void {
    this.lastEventIds.set(condition, eventId.toString("hex"));
  }

  private record(eventData: IEventData): void {
    try {
      const fields = fieldsOf(eventData);
      const origin = eventData.getEventDataSource();
      // A condition's events are raised from the condition itself; other events from their type.
      const condition = origin.nodeClass === NodeClass.Object ? origin.nodeId.toString() : "";
      if (condition) {
        addStateMachineFields(fields, origin);
        const eventId = (fields.get("eventId")?.value as Buffer | null)?.toString("hex") ?? "";
        if (this.lastEventIds.get(condition) === eventId) return;
        this.lastEventIds.set(condition, eventId);
      }
      const time = dateOf(fields, "time") ?? Date.now();
      this.port.appendEvent({
        time,
        receiveTime: dateOf(fields, "receiveTime") ?? time,
        source: String(fields.get("sourceNode")?.value ?? ""),
        type: String(fields.get("eventType")?.value ?? ""),
        condition,
        severity: Number(fields.get("severity")?.value ?? 0),
        fields: packFields(fields),
        open: condition ? isOpen(fields) : null,
      });
    } catch (err) {
      this.log.warn("record", "event not recorded in the journal", { error: (err as Error).message });
    }
  }
}

/**
 * node-opcua's event of a condition carries the condition's variables but not those of its state
 * machines (an ExclusiveLimitAlarm's LimitState, Part 9 5.8.18: CurrentState is HighHigh, High,
 * Low or LowLow); a live event filter selecting them reads the node as the event is sent. The journal
 * records them the same way, read when the event is raised: a restart brings the state back
 * (AlarmNodes), and HistoryRead of events returns them.
 */
function addStateMachineFields(fields: EventFields, condition: BaseNode): void {
  for (const machine of condition.getAggregates())
    if (machine.nodeClass === NodeClass.Object) addVariables(fields, machine, [machine.browseName]);
}

function addVariables(fields: EventFields, node: BaseNode, path: QualifiedName[]): void {
  for (const child of node.getAggregates()) {
    if (child.nodeClass !== NodeClass.Variable) continue;
    const childPath = [...path, child.browseName];
    fields.set(fieldKey(childPath), (child as UAVariable).readValue().value);
    addVariables(fields, child, childPath);
  }
}

function dateOf(fields: EventFields, key: string): number | null {
  const value = fields.get(key)?.value;
  return value instanceof Date ? value.getTime() : null;
}

/** Part 9 5.5.2 and 5.7.2: a condition an operator still has to see (active, not acknowledged or not confirmed). */
export function isOpen(fields: EventFields): boolean {
  const is = (key: string) => fields.get(key)?.value;
  return is("activeState.id") === true || is("ackedState.id") === false || is("confirmedState.id") === false;
}
