import {
  AttributeIds,
  type ClientSession,
  ClientSubscription,
  type DataValue,
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
} from "node-opcua";
import { testCertificateManager } from "./opcua-client.js";

/** Server/ServiceLevel and Server/ServerRedundancy/ServerUriArray (the standard's NodeIds). */
export const SERVICE_LEVEL_NODE = "i=2267";
export const SERVER_URI_ARRAY_NODE = "i=11314";

/** A member the client cannot reach ranks below every level a server can report. */
const UNREACHABLE = -1;

/** One member of the redundant set as the client sees it. */
class Member {
  level = UNREACHABLE;
  serverUris: string[] = [];
  session: ClientSession | null = null;
  private client: OPCUAClient | null = null;
  private connecting: Promise<void> | null = null;
  private lastAttempt = 0;

  constructor(readonly endpoint: string) {}

  /** Reads ServiceLevel (connecting first when needed); a member that does not answer is unreachable. */
  async poll(): Promise<void> {
    if (!this.session) {
      if (!this.connecting && Date.now() - this.lastAttempt > 300) {
        this.lastAttempt = Date.now();
        this.connecting = this.connect().finally(() => {
          this.connecting = null;
        });
      }
      return;
    }
    try {
      const [level, uris] = await withTimeout(
        this.session.read([
          { nodeId: SERVICE_LEVEL_NODE, attributeId: AttributeIds.Value },
          { nodeId: SERVER_URI_ARRAY_NODE, attributeId: AttributeIds.Value },
        ]),
        1000,
      );
      this.level = level!.statusCode.isGood() ? Number(level!.value.value) : UNREACHABLE;
      this.serverUris = [...((uris!.value.value as string[] | null) ?? [])];
    } catch {
      this.drop();
    }
  }

  private async connect(): Promise<void> {
    // No automatic reconnection: a lost member is noticed at once and polled again from scratch.
    const client = OPCUAClient.create({
      endpointMustExist: false,
      securityMode: MessageSecurityMode.None,
      securityPolicy: SecurityPolicy.None,
      connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
      requestedSessionTimeout: 10_000,
      clientCertificateManager: testCertificateManager(),
    });
    try {
      await client.connect(this.endpoint);
      const session = await client.createSession();
      client.on("close", () => this.drop());
      client.on("connection_lost", () => this.drop());
      this.client = client;
      this.session = session;
    } catch {
      await client.disconnect().catch(() => {});
    }
  }

  drop(): void {
    const { client } = this;
    this.level = UNREACHABLE;
    this.session = null;
    this.client = null;
    void client?.disconnect().catch(() => {});
  }
}

/** A value the client received, from which member, when. */
export interface Received {
  nodeId: string;
  value: unknown;
  at: number;
  endpoint: string;
}

/** A switch of the data member: why, and when. */
export interface Switch {
  at: number;
  from: string;
  to: string;
  reason: "unreachable" | "lower service level" | "first";
}

export interface RedundantClient {
  /** The member whose data the client takes now ("" before the first). */
  readonly current: string;
  readonly received: Received[];
  readonly switches: Switch[];
  /** The ServiceLevel each member reported last (−1: unreachable). */
  levels(): Record<string, number>;
  /** ServerUriArray as each member reported it. */
  serverUris(): Record<string, string[]>;
  stop(): Promise<void>;
}

/**
 * A SCADA client of a non-transparent redundant set (Part 4 6.6.2.4.5, Hot: the client keeps a
 * session to every member and its data on one): it reads ServiceLevel and ServerUriArray of each
 * member every `pollMs`, takes its data from the highest, and moves to another, recreating its
 * monitored items (samplingInterval 0, a queue per item), when its member goes away or reports a
 * level below another's.
 */
export async function startRedundantClient(
  endpoints: readonly string[],
  nodeIds: readonly string[],
  pollMs = 100,
): Promise<RedundantClient> {
  const members = endpoints.map((e) => new Member(e));
  const received: Received[] = [];
  const switches: Switch[] = [];
  let current: Member | null = null;
  let subscription: ClientSubscription | null = null;
  let stopped = false;

  const subscribe = async (member: Member) => {
    const session = member.session!;
    const sub = ClientSubscription.create(session, {
      requestedPublishingInterval: 50,
      requestedLifetimeCount: 100,
      requestedMaxKeepAliveCount: 10,
      maxNotificationsPerPublish: 0,
      publishingEnabled: true,
    });
    await new Promise<void>((resolve, reject) => {
      sub.once("started", () => resolve());
      sub.once("internal_error", reject);
    });
    const group = await sub.monitorItems(
      nodeIds.map((nodeId) => ({ nodeId, attributeId: AttributeIds.Value })),
      { samplingInterval: 0, queueSize: 1000, discardOldest: true },
      TimestampsToReturn.Both,
    );
    group.on("changed", (item, dataValue: DataValue) => {
      if (member !== current || !dataValue.statusCode.isGood()) return;
      received.push({
        nodeId: item.itemToMonitor.nodeId.toString(),
        value: dataValue.value.value,
        at: Date.now(),
        endpoint: member.endpoint,
      });
    });
    return sub;
  };

  const choose = async () => {
    await Promise.all(members.map((m) => m.poll()));
    const best = members.reduce((a, b) => (b.level > a.level ? b : a));
    if (best.level < 0 || best === current) return;
    const reason: Switch["reason"] | null = !current
      ? "first"
      : current.level < 0
        ? "unreachable"
        : best.level > current.level
          ? "lower service level"
          : null;
    if (!reason) return;
    switches.push({ at: Date.now(), from: current?.endpoint ?? "", to: best.endpoint, reason });
    const old = subscription;
    current = best;
    subscription = null;
    void old?.terminate().catch(() => {});
    try {
      subscription = await subscribe(best);
    } catch {
      best.drop();
    }
  };

  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => (stopped ? undefined : choose()));
  }, pollMs);

  return {
    get current() {
      return current?.endpoint ?? "";
    },
    received,
    switches,
    levels: () => Object.fromEntries(members.map((m) => [m.endpoint, m.level])),
    serverUris: () => Object.fromEntries(members.map((m) => [m.endpoint, m.serverUris])),
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      await subscription?.terminate().catch(() => {});
      for (const m of members) m.drop();
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]);
}
