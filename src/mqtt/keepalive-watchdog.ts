import type { MqttClient } from "mqtt";
import { sendPingreq } from "./mqtt-js-internals.js";

/** Silence (keep-alives) after which the watchdog sends a PINGREQ of its own. */
const PING_AFTER = 0.5;
/**
 * Silence (keep-alives) after which the link is taken for lost: the PINGREQ sent at PING_AFTER had
 * 0.3 keep-alive to be answered, and the loss is reported within one keep-alive of the last packet,
 * with room for a loaded machine's timers.
 */
const LOST_AFTER = 0.8;
/**
 * The watchdog looks every TICK keep-alives: it counts packets rather than timing each (a clock
 * read is ~0.2 µs here, an increment nothing), so a silence is known to within one tick and the
 * loss reported 0.8–0.85 keep-alive after the last packet.
 */
const TICK = 0.05;
/**
 * A tick that runs later than this (keep-alives) after it was due means this thread stood still
 * (a long task, a GC pause): what looks like the broker's silence may be packets not yet read.
 */
const LATE_AFTER = 0.1;

/**
 * Notices a dead route to the broker (packets dropped, no FIN, no RST) within one keep-alive.
 * MQTT.js alone sends its PINGREQ after a keep-alive without a PINGRESP or an acknowledgement (an
 * inbound PUBLISH does not count) and gives up half a keep-alive later ([MQTT-3.1.2-24] gives the
 * broker 1.5), so it notices 0.5–1.5 keep-alives after the route died. This one counts every
 * inbound packet of any kind: after PING_AFTER of silence it sends a PINGREQ (the broker must
 * answer, [MQTT-3.12.4-1]), and after LOST_AFTER it calls `lost`. The keep-alive the broker is
 * told stays what it was.
 */
export class KeepaliveWatchdog {
  private keepaliveMs = 0;
  /** Packets received: the only work on the per-packet path. */
  private packets = 0;
  private packetsSeen = 0;
  /** performance.now() of the first tick that saw the last packet counted. */
  private lastHeard = 0;
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
      this.packets++;
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
    this.packetsSeen = this.packets;
    this.lastHeard = performance.now();
    this.pingSentAt = Number.NEGATIVE_INFINITY;
    this.arm();
  }

  /** Since the last packet received (ms, to within a tick). */
  silenceMs(): number {
    return performance.now() - this.lastHeard;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    const inMs = TICK * this.keepaliveMs;
    this.due = performance.now() + inMs;
    this.timer = setTimeout(this.tick, inMs);
  }

  private readonly tick = (): void => {
    this.timer = null;
    const now = performance.now();
    const k = this.keepaliveMs;
    if (this.packets !== this.packetsSeen || this.holding()) {
      // Heard from since the last tick, or not reading (the silence is ours, not the broker's).
      this.packetsSeen = this.packets;
      this.lastHeard = now;
    } else if (now - this.due > LATE_AFTER * k) {
      // This thread stood still: the broker gets a PINGREQ now and the usual time to answer it.
      this.lastHeard = Math.max(this.lastHeard, now - PING_AFTER * k);
      this.pingSentAt = Number.NEGATIVE_INFINITY;
    }
    const silence = now - this.lastHeard;
    if (silence >= LOST_AFTER * k) {
      this.lost(silence);
      return;
    }
    // One PINGREQ outstanding at most: any packet from the broker answers it as well as a PINGRESP.
    if (silence >= PING_AFTER * k && this.pingSentAt < this.lastHeard) {
      sendPingreq(this.client);
      this.pingSentAt = now;
    }
    this.arm();
  };
}
