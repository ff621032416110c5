import { describe, expect, it } from "vitest";
import { brokerRestart } from "../../scripts/soak/broker-restart.js";
import { formatTally } from "../harness/sequence.js";
import { needs } from "../harness/tools.js";

describe(
  "reliability: the broker restarts under load (mosquitto, persistence on, autosave_interval 1 s)",
  needs("mosquitto"),
  () => {
    it("SIGTERM: reconnects with backoff, points Uncertain then Good, 0 lost at QoS 1 and 2, none duplicated at QoS 2", async () => {
      const r = await brokerRestart({
        signal: "SIGTERM",
        cycles: 1,
        runMs: 1000,
        downMs: 1000,
        rate: 100,
        autosave: 1,
      });
      console.log(
        `broker SIGTERM restart: ${formatTally(r.tally)}; reconnect ${r.reconnectMs} ms after the broker was back`,
      );
      expect(r.persisted).toBe(true);
      expect(r.statusDown).toBe("UncertainNoCommunicationLastUsableValue");
      expect(r.statusBack).toBe("Good");
      expect(r.brokerReconnects).toBe(1);
      expect(r.complete).toBe(true);
      expect(r.tally[1].sent).toBeGreaterThan(300);
      expect(r.tally[1].lost).toBe(0);
      expect(r.tally[2].lost).toBe(0);
      expect(r.tally[2].duplicated).toBe(0);
    });

    it("SIGKILL: reconnects, points Uncertain then Good, every message sent after the restart arrives; losses printed", async () => {
      const r = await brokerRestart({
        signal: "SIGKILL",
        cycles: 1,
        runMs: 1500,
        downMs: 1000,
        rate: 100,
        autosave: 1,
      });
      console.log(
        `broker SIGKILL restart (autosave_interval 1 s): ${formatTally(r.tally)}; complete: ${r.complete}; reconnect ${r.reconnectMs} ms`,
      );
      expect(r.statusDown).toBe("UncertainNoCommunicationLastUsableValue");
      expect(r.statusBack).toBe("Good");
      expect(r.brokerReconnects).toBe(1);
      // Only what persistence cannot lose is asserted: what was published after the broker came back.
      expect(r.tally[1].sent).toBeGreaterThan(300);
      expect(r.lostAfterBack[1]).toBe(0);
      expect(r.lostAfterBack[2]).toBe(0);
    });
  },
);
