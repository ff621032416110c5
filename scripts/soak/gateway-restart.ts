/**
 * Gateway restart: the gateway is stopped and started again (same client id, MQTT 5 session kept by
 * the broker) while a device goes on publishing sequence-numbered messages at QoS 0, 1 and 2.
 * Counts, per QoS, what reached the mirror over both runs: lost and duplicated.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMosquitto } from "../../test/harness/brokers.js";
import { startGateway } from "../../test/harness/gateway.js";
import {
  finishRun,
  formatTally,
  SEQ_TOPICS,
  SeqPublisher,
  SeqReceiver,
  type SeqTally,
} from "../../test/harness/sequence.js";
import { waitFor } from "../../test/harness/wait.js";
import { tallyFigures } from "./broker-restart.js";
import type { SoakFigures, SoakOptions, SoakScenario } from "./main.js";

export interface GatewayRestartOptions {
  cycles: number;
  /** ms of publishing before each stop. */
  runMs: number;
  /** ms the gateway stays down. */
  downMs: number;
  /** Messages per second per topic. */
  rate: number;
}

export interface GatewayRestartResult {
  tally: Record<0 | 1 | 2, SeqTally>;
  complete: boolean;
  /** ms from start() called to the gateway's first CONNACK, the worst cycle. */
  startMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function gatewayRestart(o: GatewayRestartOptions): Promise<GatewayRestartResult> {
  const dir = mkdtempSync(join(tmpdir(), "smartgear-gateway-restart-"));
  const undo: (() => Promise<unknown>)[] = [async () => rmSync(dir, { recursive: true, force: true })];
  try {
    // mosquitto's default queue (1000 messages a client) overflows during a restart at 600 QoS ≥ 1
    // msg/s and drops what does not fit: the test measures the gateway, not that (README, MQTT).
    const broker = await startMosquitto("max_queued_messages 1000000\n");
    undo.push(() => broker.stop());
    const yaml =
      `mqtt:\n  url: ${broker.url}\n  clientId: gw-restart-${process.pid}\n  protocolVersion: 5\n` +
      `  reconnectPeriod: 100\n  storeFolder: ${JSON.stringify(join(dir, "store"))}\n` +
      "  subscriptions:\n    - { topic: 11/#, qos: 2 }\n";
    const receiver = new SeqReceiver();
    const untap = receiver.tapAll();
    undo.push(async () => untap());
    let gw = await startGateway(yaml);
    let current: typeof gw | null = gw;
    undo.push(async () => current?.stop());
    const pub = await SeqPublisher.connect(broker.url, SEQ_TOPICS, `seq-gateway-restart-${process.pid}`);
    undo.push(() => pub.stop());
    pub.start(o.rate);
    let startMs = 0;
    for (let cycle = 0; cycle < o.cycles; cycle++) {
      await sleep(o.runMs);
      current = null;
      await gw.stop();
      await sleep(o.downMs);
      const t0 = Date.now();
      gw = await startGateway(yaml);
      current = gw;
      startMs = Math.max(startMs, Date.now() - t0);
      await waitFor("connected", () => gw.gateway.ingest!.isConnected);
    }
    await sleep(o.runMs);
    // Generous: on a loaded machine the session's backlog drains late, and late is not lost.
    return { ...(await finishRun(pub, receiver, 60_000)), startMs };
  } finally {
    for (const u of undo.reverse()) await u().catch(() => {});
  }
}

export const scenario: SoakScenario = {
  name: "gateway-restart",
  describe: "the gateway stopped and started again (same client id) under QoS 0/1/2 traffic",
  async run({ quick, durationS, log }: SoakOptions): Promise<SoakFigures> {
    const cycles = quick ? 1 : Math.max(1, Math.round((durationS ?? 60) / 8));
    log(`${cycles} restart(s)`);
    const r = await gatewayRestart({
      cycles,
      runMs: quick ? 1000 : 4000,
      downMs: quick ? 1000 : 2000,
      rate: quick ? 100 : 200,
    });
    if (!r.complete || r.tally[1].lost || r.tally[2].lost || r.tally[2].duplicated)
      throw new Error(`messages lost across a gateway restart: ${formatTally(r.tally)}`);
    return { restarts: cycles, ...tallyFigures(r.tally), "start-up (ms, worst)": r.startMs };
  },
};
