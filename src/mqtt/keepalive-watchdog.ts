import type { MqttClient } from "mqtt";
import { sendPingreq } from "./mqtt-js-internals.js";

/** Silence (keep-alives) after which the watchdog sends a PINGREQ of its own. */
export const PING_AFTER = 0.5;
/**
 * Silence (keep-alives) after which the link is taken for lost: the PINGREQ sent at PING_AFTER had
 * 0.35 keep-alive to be answered, and the loss is reported within one keep-alive of the last packet.
 */
export const LOST_AFTER = 0.85;
/**
 * A check that runs later than this (keep-alives) after it was due means this thread stood still
 * (a long task, a GC pause): what looks like the broker's silence may be packets not yet read.
 */
const LATE_AFTER = 0.1;

/**
 * Notices a dead route to the broker (packets dropped, no FIN, no RST) within one keep-alive.
 * MQTT.js alone sends its PINGREQ after a keep-alive without an acknowledgement and gives up half
 * a keep-alive later ([MQTT-3.1.2-24] gives the broker 1.5), so it notices 0.5–1.5 keep-alives
 * after the route died. This one times the last inbound packet of any kind: after PING_AFTER of
 * silence it sends a PINGREQ (the broker must answer, [MQTT-3.12.4-1]), and after LOST_AFTER it
 * calls `lost`. The per-packet cost is one timestamp; the timer wakes about twice a keep-alive.
 * The keep-alive the broker is told stays what it was.
 */
export class KeepaliveWatchdog {
  private keepaliveMs = 0;
  /** performance.now() of the last packet received. */
  private lastInbound = 0;
  /** Silence before this is not the broker's (this thread stood still, or held MQTT.js). */
  private excusedUntil = 0;
  private pingSentAt = Number.NEGATIVE_INFINITY;
  private due = 0;
  private timer: NodeJS.Timeout | null = null;

  /**
   * `holding`: whether MQTT.js is held from reading (the ingest thread's back-pressure), which
   * silences the link from this side. `lost` gets the measured silence (ms).
   */
  constructor(
    private readonly client: MqttClient,
    private readonly holding: () => boolean,
    private readonly lost: (silenceMs: number) => void,
  ) {
    client.on("packetreceive", () => {
      this.lastInbound = performance.now();
    });
  }

  /**
   * Watches the connection just made, with the keep-alive in force (seconds: the client's, or the
   * MQTT 5 broker's Server Keep Alive); 0 leaves it unwatched, as it leaves the broker.
   */
  start(keepaliveS: number): void {
    this.stop();
    if (keepaliveS <= 0) return;
    this.keepaliveMs = keepaliveS * 1000;
    this.lastInbound = performance.now();
    this.excusedUntil = this.lastInbound;
    this.pingSentAt = Number.NEGATIVE_INFINITY;
    this.arm(PING_AFTER * this.keepaliveMs);
  }

  /** Since the last packet received (ms). */
  silenceMs(): number {
    return performance.now() - this.lastInbound;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(inMs: number): void {
    this.due = performance.now() + inMs;
    this.timer = setTimeout(this.check, Math.max(1, Math.ceil(inMs)));
  }

  private readonly check = (): void => {
    this.timer = null;
    const now = performance.now();
    const k = this.keepaliveMs;
    if (this.holding()) this.excusedUntil = now;
    else if (now - this.due > LATE_AFTER * k) {
      // The silence was ours: the broker gets a PINGREQ now and the usual time to answer it.
      this.excusedUntil = Math.max(this.excusedUntil, now - PING_AFTER * k);
      this.pingSentAt = Number.NEGATIVE_INFINITY;
    }
    const since = Math.max(this.lastInbound, this.excusedUntil);
    const silence = now - since;
    if (silence >= LOST_AFTER * k) {
      this.lost(this.silenceMs());
      return;
    }
    if (silence < PING_AFTER * k) {
      this.arm(PING_AFTER * k - silence);
      return;
    }
    // One PINGREQ outstanding at most: any packet from the broker answers it as well as a PINGRESP.
    if (this.pingSentAt <= since) {
      sendPingreq(this.client);
      this.pingSentAt = now;
    }
    this.arm(LOST_AFTER * k - silence);
  };
}
