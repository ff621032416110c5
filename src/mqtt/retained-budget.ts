/** Bounds of the embedded broker's retained messages (broker.retained). */
export interface RetainedLimits {
  maxMessages: number;
  maxBytes: number;
  maxMessagesPerClient: number;
  maxBytesPerClient: number;
}

interface Usage {
  messages: number;
  bytes: number;
}

/**
 * What the embedded broker's retained store holds, per topic and per client that set it, so that
 * a retained message beyond broker.retained is not stored (aedes' in-memory persistence has no
 * bound: 5,000 retained messages of 64 KiB from one anonymous client cost 325 MiB). A retained
 * message belongs to the client that last set it. Holds at most maxMessages topics.
 */
export class RetainedBudget {
  private readonly topics = new Map<string, { owner: string; bytes: number }>();
  private readonly owners = new Map<string, Usage>();
  private readonly total: Usage = { messages: 0, bytes: 0 };

  constructor(private readonly limits: RetainedLimits) {}

  /** Messages and bytes held in all. */
  get usage(): Readonly<Usage> {
    return this.total;
  }

  /**
   * A retained PUBLISH of `topic` by `owner`: true, and counted, when it fits the bounds in place
   * of the topic's current one; false when it does not (nothing changes). An empty payload
   * removes the retained message [MQTT-3.3.1-10] and always fits.
   */
  admit(topic: string, owner: string, payloadBytes: number): boolean {
    if (payloadBytes === 0) {
      this.forget(topic);
      return true;
    }
    const bytes = Buffer.byteLength(topic) + payloadBytes;
    const old = this.topics.get(topic);
    const mine = this.owners.get(owner) ?? { messages: 0, bytes: 0 };
    const { limits, total } = this;
    const replacesMine = old?.owner === owner;
    const fits =
      total.messages + (old ? 0 : 1) <= limits.maxMessages &&
      total.bytes - (old?.bytes ?? 0) + bytes <= limits.maxBytes &&
      mine.messages + (replacesMine ? 0 : 1) <= limits.maxMessagesPerClient &&
      mine.bytes - (replacesMine ? old.bytes : 0) + bytes <= limits.maxBytesPerClient;
    if (!fits) return false;
    this.forget(topic);
    this.topics.set(topic, { owner, bytes });
    this.add(owner, 1, bytes);
    return true;
  }

  /** The topic's retained message is gone. */
  private forget(topic: string): void {
    const old = this.topics.get(topic);
    if (!old) return;
    this.topics.delete(topic);
    this.add(old.owner, -1, -old.bytes);
  }

  private add(owner: string, messages: number, bytes: number): void {
    this.total.messages += messages;
    this.total.bytes += bytes;
    const usage = this.owners.get(owner) ?? { messages: 0, bytes: 0 };
    usage.messages += messages;
    usage.bytes += bytes;
    // Clients come and go (anonymous ones with any id): an owner with nothing retained is dropped.
    if (usage.messages === 0) this.owners.delete(owner);
    else this.owners.set(owner, usage);
  }
}
