import { describe, expect, it } from "vitest";
import { networkFault, probeCommands } from "../../scripts/soak/network-faults.js";
import { formatTally } from "../harness/sequence.js";
import { needs } from "../harness/tools.js";

const KEEPALIVE_S = 2;

describe(
  "reliability: network faults between the gateway and the broker (a TCP proxy)",
  needs("mosquitto"),
  () => {
    const commands = probeCommands();
    it("a stalled (half-open) link is detected within one keep-alive; nothing piles up; the session resumes, 0 lost at QoS 1 and 2", async () => {
      const r = await networkFault({
        fault: "stall",
        cycles: 1,
        keepalive: KEEPALIVE_S,
        runMs: 800,
        faultMs: 4500,
        delayMs: 0,
        rate: 100,
        commands,
      });
      console.log(
        `stall: detected after ${r.detectionMs} ms (keepalive ${KEEPALIVE_S} s); ${formatTally(r.tally)}; commands unacknowledged max ${r.maxOutgoing} (while down ${r.maxOutgoingWhileDown}, at the end ${r.outgoingAtEnd}), ${r.refusedPublishes} calls refused`,
      );
      expect(r.detectionMs).toBeGreaterThan(0);
      // The keep-alive watchdog: 0.8–0.85 keep-alive after the last packet (MQTT.js alone: up to 1.5).
      expect(r.detectionMs).toBeLessThanOrEqual(KEEPALIVE_S * 1000 + 500);
      expect(r.statusDown).toBe("UncertainNoCommunicationLastUsableValue");
      expect(r.statusBack).toBe("Good");
      // Commands published before the stall was noticed wait for the broker's acknowledgement (MQTT.js
      // resends them with the session, their command ids let a device tell); once noticed, none is
      // accepted: no growth.
      expect(r.maxOutgoing).toBeLessThanOrEqual((1.5 * KEEPALIVE_S * 1000) / 100 + 2);
      expect(r.maxOutgoingWhileDown).toBeLessThanOrEqual(r.maxOutgoing);
      expect(r.refusedPublishes).toBeGreaterThan(10);
      expect(r.outgoingAtEnd).toBe(0);
      expect(r.complete).toBe(true);
      expect(r.tally[1].lost).toBe(0);
      expect(r.tally[2].lost).toBe(0);
      expect(r.tally[2].duplicated).toBe(0);
    });

    it("a cut link is detected at once; the session resumes, 0 lost at QoS 1 and 2", async () => {
      const r = await networkFault({
        fault: "cut",
        cycles: 1,
        keepalive: KEEPALIVE_S,
        runMs: 800,
        faultMs: 500,
        delayMs: 0,
        rate: 100,
        commands,
      });
      console.log(`cut: detected after ${r.detectionMs} ms; ${formatTally(r.tally)}`);
      expect(r.detectionMs).toBeLessThan(200);
      expect(r.statusDown).toBe("UncertainNoCommunicationLastUsableValue");
      expect(r.statusBack).toBe("Good");
      expect(r.complete).toBe(true);
      expect(r.tally[1].lost).toBe(0);
      expect(r.tally[2].lost).toBe(0);
      expect(r.tally[2].duplicated).toBe(0);
    });

    it("300 ms of latency each way: no disconnect, statuses stay Good, nothing lost", async () => {
      const r = await networkFault({
        fault: "delay",
        cycles: 1,
        keepalive: KEEPALIVE_S,
        runMs: 800,
        faultMs: 3000,
        delayMs: 300,
        rate: 100,
        commands,
      });
      console.log(`delay 300 ms: ${r.disconnects} disconnects; ${formatTally(r.tally)}`);
      expect(r.disconnects).toBe(0);
      expect(r.statusDown).toBe("Good");
      expect(r.complete).toBe(true);
      expect(r.tally[0].lost).toBe(0);
      expect(r.tally[1].lost).toBe(0);
      expect(r.tally[1].duplicated).toBe(0);
      expect(r.tally[2].lost).toBe(0);
      expect(r.tally[2].duplicated).toBe(0);
    });
  },
);
