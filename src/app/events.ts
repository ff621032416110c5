import type { DeviceState } from "../bridge/point-mirror.js";
import type { SessionTakeover, SubscriptionState } from "../mqtt/broker-link.js";
import type { Logger } from "../shared/logger.js";
import { RateLimitedLog } from "../shared/rate-limited-log.js";

/**
 * Discovery and lifecycle events and what each carries. Never a message: the per-message path
 * (broker link → point mirror, reply → command dispatcher) stays plain function calls.
 */
export interface GatewayEvents {
  /** A device appeared: declared, or discovered with its first message. */
  deviceAdded: DeviceState;
  /** A device's status topic or last will said whether it is up (mapping.statusTopic). */
  deviceReported: { device: DeviceState; online: boolean; at: number };
  /**
   * The broker link connected; `reconnect` after it had been connected before; `sessionLost` when
   * the broker did not resume the session the gateway had.
   */
  brokerConnected: { reconnect: boolean; sessionLost: boolean };
  brokerLost: { reason: string };
  /** The broker answered the subscriptions: what it holds and what it refused. */
  subscriptionsChanged: SubscriptionState;
  /** Another client connected with the gateway's client id and took its MQTT session over. */
  sessionTakenOver: SessionTakeover;
}

export type GatewayEvent = keyof GatewayEvents;
type Listener<E extends GatewayEvent> = (data: GatewayEvents[E]) => void;

/** What a listener's error is logged with: which device, broker or filter the event was about. */
const CONTEXT: { [E in GatewayEvent]: (data: GatewayEvents[E]) => Record<string, unknown> } = {
  deviceAdded: (device) => ({ device: device.key }),
  deviceReported: (r) => ({ device: r.device.key, online: r.online }),
  brokerConnected: (c) => ({ reconnect: c.reconnect, sessionLost: c.sessionLost }),
  brokerLost: (l) => ({ reason: l.reason }),
  subscriptionsChanged: (s) => ({ refused: s.refused.map((r) => r.filter) }),
  sessionTakenOver: (t) => ({ clientId: t.clientId }),
};

/**
 * A typed hub for discovery and lifecycle events (zigbee2mqtt's EventBus): each part listens to
 * what it needs instead of the composition root wiring closures from part to part. Listeners run
 * in the order they were added; an error thrown by one is caught, counted (listenerErrors) and
 * logged with its event, listener and context, and the others still run: nothing thrown at run
 * time crosses an event boundary.
 */
export class EventHub {
  /** Listener errors caught since start. */
  listenerErrors = 0;
  private readonly listeners: { [E in GatewayEvent]?: { name: string; listener: Listener<E> }[] } = {};
  private readonly log: RateLimitedLog;

  constructor(logger: Logger) {
    this.log = new RateLimitedLog(logger);
  }

  /** `name` says who listens, in the log line of its errors. */
  on<E extends GatewayEvent>(event: E, name: string, listener: Listener<E>): void {
    const list: { name: string; listener: Listener<E> }[] = this.listeners[event] ?? [];
    list.push({ name, listener });
    this.listeners[event] = list as (typeof this.listeners)[E];
  }

  emit<E extends GatewayEvent>(event: E, data: GatewayEvents[E]): void {
    for (const { name, listener } of this.listeners[event] ?? []) {
      try {
        listener(data);
      } catch (err) {
        this.listenerErrors++;
        // Keyed by event and listener: a listener failing for every device logs a few lines, not one each.
        this.log.warn(`${event}/${name}`, "event listener failed", {
          event,
          listener: name,
          error: (err as Error).message,
          ...CONTEXT[event](data),
        });
      }
    }
  }
}
