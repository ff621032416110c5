/**
 * The simulated devices' side of commands (README, Commands): a command on
 * `cmd/<family>/<id>/<type>/<name>/<source>[/set]` is carried out once per `commandId` and answered
 * on the reply topic the gateway gave (MQTT 5 Response Topic and Correlation Data, or `replyTo` and
 * `correlationId` in the payload under MQTT 3.1.1). A command that comes again with a `commandId`
 * the device remembers (the broker redelivering it, the gateway's session resending it after a
 * half-open link, a retry through the other member of a redundant pair) gets the first result
 * again and is not carried out twice. Pure: the simulator's MQTT client feeds it and publishes
 * what it returns.
 */

/** A command as the device receives it. */
export interface ReceivedCommand {
  topic: string;
  payload: Uint8Array;
  /** MQTT 5 properties of the PUBLISH, when the gateway speaks MQTT 5. */
  responseTopic?: string;
  correlationData?: Uint8Array;
}

/** What the device publishes in answer. */
export interface CommandAnswer {
  topic: string;
  payload: string;
  /** Echoed as the answer's MQTT 5 Correlation Data. */
  correlationData?: Uint8Array;
}

/** How a command ended on the device: the fields of its answer besides the correlation. */
type Result = Record<string, unknown> & { status: string };

/** Commands remembered by default: a few minutes of an operator's calls on a whole lineup. */
export const REMEMBERED_COMMANDS = 1000;

export class CommandDevice {
  /** commandId ⇒ result, oldest first (a Map keeps insertion order): bounded, the oldest forgotten. */
  private readonly results = new Map<string, Result>();
  /** Commands carried out; a duplicate answered from memory does not count. */
  executed = 0;
  duplicates = 0;
  /** Commands without JSON or without a commandId: answered with an error, never carried out. */
  refused = 0;

  /**
   * @param devices the `<type>/<name>/<source>` of this lineup's devices; commands to others
   *   (another lineup on the same broker) are not its to answer
   */
  constructor(
    private readonly devices: ReadonlySet<string>,
    private readonly maxRemembered = REMEMBERED_COMMANDS,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The device's answer to `cmd`, or null when it is not for this lineup or asks for no answer. */
  handle(cmd: ReceivedCommand): CommandAnswer | null {
    const levels = cmd.topic.split("/");
    if (levels[0] !== "cmd" || (levels.length !== 6 && !(levels.length === 7 && levels[6] === "set")))
      return null;
    if (!this.devices.has(levels.slice(3, 6).join("/"))) return null;
    let doc: Record<string, unknown> | null = null;
    try {
      const parsed: unknown = JSON.parse(Buffer.from(cmd.payload).toString("utf8"));
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
        doc = parsed as Record<string, unknown>;
    } catch {
      // Answered below as refused, where the gateway said where to.
    }
    const commandId = typeof doc?.commandId === "string" && doc.commandId !== "" ? doc.commandId : null;
    let result: Result;
    if (!commandId) {
      this.refused++;
      result = { status: "error", error: "a command needs a JSON payload with a commandId" };
    } else {
      const first = this.results.get(commandId);
      if (first) {
        this.duplicates++;
        result = first;
      } else {
        this.executed++;
        result = {
          status: "ok",
          command: doc?.command,
          execution: this.executed,
          executedAt: this.now().toISOString(),
        };
        this.results.set(commandId, result);
        if (this.results.size > this.maxRemembered) this.results.delete(this.results.keys().next().value!);
      }
    }
    const replyTo = cmd.responseTopic ?? (typeof doc?.replyTo === "string" ? doc.replyTo : undefined);
    if (!replyTo) return null;
    // Each request is answered with its own correlation: a retry may come through another member.
    const correlationId = typeof doc?.correlationId === "string" ? doc.correlationId : undefined;
    return {
      topic: replyTo,
      payload: JSON.stringify({ ...(cmd.responseTopic ? {} : { correlationId }), commandId, ...result }),
      ...(cmd.correlationData ? { correlationData: cmd.correlationData } : {}),
    };
  }
}
