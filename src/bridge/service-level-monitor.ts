import { SERVICE_LEVEL, type ServiceLevelRules, serviceLevel } from "../mapping/service-level.js";
import type { Logger } from "../shared/logger.js";

/** How often the level is recomputed between events: fresh share, warm-up and backlog move slowly. */
const EVERY_MS = 500;

/** What the level is computed from, read when it is recomputed (never per message). */
export interface ServiceLevelSources {
  freshness(): { fresh: number; known: number };
  /** Ingest-thread batches waiting for the main thread; 0 without a thread. */
  backlogBatches(): Promise<number>;
}

/**
 * Keeps Server/ServiceLevel (mapping/service-level.ts) up to date: at once on a broker connection
 * or loss (the gateway's events) and on stop (Maintenance, so that clients go before the endpoint
 * does), and every EVERY_MS for what moves slowly. A change is written to `publish` (the OPC UA
 * variable) and logged.
 */
export class ServiceLevelMonitor {
  private current: number = SERVICE_LEVEL.noData;
  /** Epoch ms of the broker connection; 0 while not connected. */
  private connectedAt = 0;
  private stopping = false;
  private backlog = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly rules: ServiceLevelRules,
    private readonly sources: ServiceLevelSources,
    private readonly publish: (level: number) => void,
    private readonly logger: Logger,
  ) {}

  get level(): number {
    return this.current;
  }

  start(connected: boolean): void {
    if (connected && this.connectedAt === 0) this.connectedAt = Date.now();
    this.update();
    this.timer = setInterval(() => this.poll(), EVERY_MS);
    this.timer.unref();
  }

  /** Maintenance (0) from now on: Part 4 6.6.2.4.2 asks connected clients to go. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.stopping = true;
    this.update();
  }

  brokerConnected(now = Date.now()): void {
    this.connectedAt = now;
    this.update(now);
  }

  brokerLost(now = Date.now()): void {
    this.connectedAt = 0;
    this.update(now);
  }

  private poll(): void {
    this.sources.backlogBatches().then(
      (batches) => {
        this.backlog = batches;
        this.update();
      },
      // A thread that ended answers nothing: the broker link says so with its own events.
      () => this.update(),
    );
  }

  private update(now = Date.now()): void {
    const { fresh, known } = this.sources.freshness();
    const level = serviceLevel(
      {
        stopping: this.stopping,
        connected: this.connectedAt > 0,
        connectedForMs: now - this.connectedAt,
        freshPoints: fresh,
        knownPoints: known,
        backlogBatches: this.backlog,
      },
      this.rules,
    );
    if (level === this.current) return;
    // A line per sub-range change; within degraded the level moves with every point that turns fresh.
    this.logger.log(subRange(level) === subRange(this.current) ? "debug" : "info", "service level changed", {
      from: this.current,
      to: level,
      fresh,
      known,
      backlog: this.backlog,
    });
    this.current = level;
    this.publish(level);
  }
}

function subRange(level: number): string {
  if (level >= SERVICE_LEVEL.healthyMin) return "healthy";
  if (level >= SERVICE_LEVEL.degradedMin) return "degraded";
  return level === SERVICE_LEVEL.noData ? "noData" : "maintenance";
}
