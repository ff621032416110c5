/**
 * Network faults between the gateway and mosquitto, made by a TCP proxy: cut (both sockets
 * destroyed), stall (half-open: nothing flows, nothing closes) and delay (latency each way), while a
 * device publishes sequence-numbered messages straight to the broker. Measures how long the gateway
 * takes to notice, how many commands wait for the broker's acknowledgement meanwhile, and what is
 * lost and duplicated.
 */
import { StatusCodes } from "node-opcua";
import { startMosquitto } from "../../test/harness/brokers.js";
import { type CommandsSetup, callSendCommand, commandsSetup } from "../../test/harness/commands-rig.js";
import { startGateway } from "../../test/harness/gateway.js";
import { nodeOf, waitStatus } from "../../test/harness/opcua-client.js";
import {
  finishRun,
  formatTally,
  SEQ_TOPICS,
  SeqPublisher,
  SeqReceiver,
  type SeqTally,
} from "../../test/harness/sequence.js";
import { startTcpProxy } from "../../test/harness/tcp-proxy.js";
import { waitFor } from "../../test/harness/wait.js";
import { tallyFigures } from "./broker-restart.js";
import type { SoakFigures, SoakOptions, SoakScenario } from "./main.js";

export type Fault = "cut" | "stall" | "delay";

export interface NetworkFaultOptions {
  fault: Fault;
  cycles: number;
  /** The gateway's mqtt.keepalive, seconds. */
  keepalive: number;
  /** ms of normal traffic before each fault. */
  runMs: number;
  /** ms the fault lasts. */
  faultMs: number;
  /** Latency each way for `delay`, ms. */
  delayMs: number;
  /** Messages per second per topic. */
  rate: number;
  /**
   * The Operator and commands of the gateway; one for several runs, so that only the first trusts
   * the client's certificate while its gateway runs (the later ones find it trusted at start).
   */
  commands: CommandsSetup;
}

export interface NetworkFaultResult {
  tally: Record<0 | 1 | 2, SeqTally>;
  complete: boolean;
  /** ms from the fault to the gateway's "connection lost", the worst cycle; -1 when it never noticed. */
  detectionMs: number;
  /** Status of a QoS 1 point during the fault and after it (the last cycle). */
  statusDown: string;
  statusBack: string;
  /**
   * Commands called over OPC UA every 100 ms during the faults: the most published and not yet
   * acknowledged by the broker (Gateway/Commands/Unacknowledged) while the gateway still believed
   * the link up (undetected half-open), after it noticed, and at the end.
   */
  maxOutgoing: number;
  maxOutgoingWhileDown: number;
  outgoingAtEnd: number;
  /** Command calls during the faults answered BadNoCommunication at once (not queued). */
  refusedPublishes: number;
  disconnects: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const QOS1_TOPIC = SEQ_TOPICS.find((t) => t.qos === 1)!.topic;

export async function networkFault(o: NetworkFaultOptions): Promise<NetworkFaultResult> {
  const undo: (() => Promise<unknown>)[] = [];
  try {
    const broker = await startMosquitto("max_queued_messages 1000000\n");
    undo.push(() => broker.stop());
    const proxy = await startTcpProxy(broker.port);
    undo.push(() => proxy.stop());
    const receiver = new SeqReceiver();
    const untap = receiver.tapAll();
    undo.push(async () => untap());
    // Commands come as a user sends them, OPC UA calls of an Operator.
    const { commands } = o;
    const gw = await startGateway(
      commands.yaml(
        `mqtt:\n  url: ${proxy.url()}\n  clientId: gw-net-${o.fault}-${process.pid}\n  protocolVersion: 5\n  keepalive: ${o.keepalive}\n` +
          "  reconnectPeriod: 100\n  reconnectPeriodMax: 500\n  connectTimeout: 1000\n  storeFolder: ''\n" +
          "  subscriptions:\n    - { topic: 11/#, qos: 2 }\n",
      ),
    );
    undo.push(() => gw.stop());
    const ingest = gw.gateway.ingest!;
    const unacknowledged = () => gw.gateway.diagnostics().commands?.unacknowledged ?? 0;
    let disconnects = 0;
    let lostAt = 0;
    const lost = ingest.connectionLost.bind(ingest);
    ingest.connectionLost = (now) => {
      disconnects++;
      lostAt = Date.now();
      lost(now);
    };
    // The Operator reads the statuses too: with users configured, anonymous sessions are refused.
    const client = await commands.operator(gw.endpointUrl);
    undo.push(() => client.stop());
    const statusOf = async () => (await client.read(nodeOf(QOS1_TOPIC))).statusCode;
    const pub = await SeqPublisher.connect(broker.url, SEQ_TOPICS, `seq-net-${o.fault}-${process.pid}`);
    undo.push(() => pub.stop());
    pub.start(o.rate);
    await waitFor("first values", async () => (await statusOf()).equals(StatusCodes.Good));

    let detectionMs = o.fault === "delay" ? 0 : -1;
    let statusDown = "";
    let statusBack = "";
    let maxOutgoing = 0;
    let maxOutgoingWhileDown = 0;
    let refusedPublishes = 0;
    for (let cycle = 0; cycle < o.cycles; cycle++) {
      await sleep(o.runMs);
      const before = disconnects;
      const faultAt = Date.now();
      if (o.fault === "cut") proxy.cut();
      else if (o.fault === "stall") proxy.stall();
      else proxy.delay(o.delayMs);
      // Meanwhile a command is called every 100 ms: refused, never queued for later.
      const probe = setInterval(() => {
        const n = unacknowledged();
        maxOutgoing = Math.max(maxOutgoing, n);
        if (!ingest.isConnected) maxOutgoingWhileDown = Math.max(maxOutgoingWhileDown, n);
        callSendCommand(client, "probe").then(
          (r) => {
            if (r.statusCode.equals(StatusCodes.BadNoCommunication)) refusedPublishes++;
          },
          () => {},
        );
      }, 100);
      try {
        if (o.fault !== "delay") {
          await waitFor("connection lost", () => disconnects > before, o.keepalive * 3000);
          detectionMs = Math.max(detectionMs, lostAt - faultAt);
          statusDown = (await statusOf()).name;
        }
        await sleep(Math.max(0, faultAt + o.faultMs - Date.now()));
        if (o.fault === "delay") statusDown = (await statusOf()).name;
      } finally {
        clearInterval(probe);
        maxOutgoing = Math.max(maxOutgoing, unacknowledged());
      }
      if (o.fault === "stall") proxy.resume();
      if (o.fault === "delay") proxy.delay(0);
      await waitFor("reconnected", () => ingest.isConnected, 15_000);
      statusBack = (await waitStatus(client, QOS1_TOPIC, StatusCodes.Good)).name;
    }
    await sleep(o.runMs);
    const { tally, complete } = await finishRun(pub, receiver, 15_000);
    return {
      tally,
      complete,
      detectionMs,
      statusDown,
      statusBack,
      maxOutgoing,
      maxOutgoingWhileDown,
      outgoingAtEnd: unacknowledged(),
      refusedPublishes,
      disconnects,
    };
  } finally {
    for (const u of undo.reverse()) await u().catch(() => {});
  }
}

const KEEPALIVE_S = 2;

/** Command calls answer within 2 s, or BadTimeout. */
export const probeCommands = () => commandsSetup(2000);

export const scenarios: SoakScenario[] = (["cut", "stall", "delay"] as const).map((fault) => ({
  name: `network-${fault}`,
  describe: {
    cut: "the gateway's TCP link to the broker cut (both sockets destroyed), repeatedly",
    stall: `the link half-open (nothing flows, nothing closes), keep-alive ${KEEPALIVE_S} s`,
    delay: "300 ms of latency each way on the link",
  }[fault],
  async run({ quick, durationS, log }: SoakOptions): Promise<SoakFigures> {
    const cycles = quick ? 1 : Math.max(1, Math.round((durationS ?? 60) / 10));
    log(`${cycles} fault(s)`);
    const r = await networkFault({
      fault,
      cycles,
      keepalive: KEEPALIVE_S,
      runMs: quick ? 800 : 3000,
      faultMs: fault === "cut" ? 500 : quick ? 4500 : 6000,
      delayMs: 300,
      rate: quick ? 100 : 200,
      commands: probeCommands(),
    });
    if (!r.complete || r.tally[1].lost || r.tally[2].lost || r.tally[2].duplicated)
      throw new Error(`messages lost: ${formatTally(r.tally)}`);
    if (fault === "stall" && r.detectionMs > 1.5 * KEEPALIVE_S * 1000 + 500)
      throw new Error(`stall detected after ${r.detectionMs} ms`);
    return {
      faults: cycles,
      "keep-alive (s)": KEEPALIVE_S,
      "detection (ms, worst)": r.detectionMs,
      disconnects: r.disconnects,
      ...tallyFigures(r.tally),
      "commands unacknowledged, most": r.maxOutgoing,
      "commands unacknowledged at the end": r.outgoingAtEnd,
    };
  },
}));
