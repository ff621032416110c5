import winston from "winston";

export type LogLevel = "error" | "warn" | "info" | "debug";
export type LogFormat = "auto" | "json" | "pretty";
export type Logger = winston.Logger;

/** What configureLogging takes: the `log` section of the configuration. */
export interface LogOptions {
  level: LogLevel;
  format: LogFormat;
  /** Per component (`gateway:mqtt`), a level; a component without one takes its nearest ancestor's. */
  levels?: Readonly<Record<string, LogLevel>>;
}

const SEVERITY: Record<LogLevel, number> = winston.config.npm.levels as Record<LogLevel, number>;

const root = winston.createLogger({
  level: "info",
  transports: [new winston.transports.Console({ stderrLevels: [] })],
});
/** Every child handed out, so that a reconfiguration (SIGHUP) reaches loggers made before it. */
const children = new Map<string, Logger>();
let options: LogOptions = { level: "info", format: "auto" };
/** Component ⇒ most verbose severity it lets through; rebuilt lazily after each reconfiguration. */
const thresholds = new Map<string, number>();

/**
 * The level of `component`: its own in `levels`, else its nearest configured ancestor's
 * (`gateway:opcua:methods` ⇒ `gateway:opcua` ⇒ `gateway`), else the global level.
 */
export function resolveLevel(component: string, opts: LogOptions = options): LogLevel {
  const levels = opts.levels ?? {};
  for (let name = component; name !== ""; name = name.slice(0, Math.max(0, name.lastIndexOf(":")))) {
    const level = levels[name];
    if (level) return level;
  }
  return opts.level;
}

function threshold(component: string): number {
  let t = thresholds.get(component);
  if (t === undefined) {
    t = SEVERITY[resolveLevel(component)];
    thresholds.set(component, t);
  }
  return t;
}

// Transports let through everything up to the most verbose level anywhere; this filter then holds
// each line to its own component's level. Child loggers share the root's pipeline, so one filter
// serves them all, and a reconfiguration takes effect in every one at once.
const byComponent = winston.format((info) => {
  const severity = SEVERITY[info.level as LogLevel] ?? 0;
  return severity <= threshold(String(info.component ?? "gateway")) ? info : false;
});
configureLogging(options);

/**
 * JSON lines in a container (stdout not a terminal), readable lines on a terminal; a level per
 * component. May be called again at run time (SIGHUP): existing loggers follow.
 */
export function configureLogging(opts: LogOptions): void {
  options = { level: opts.level, format: opts.format, levels: { ...(opts.levels ?? {}) } };
  thresholds.clear();
  const all = [opts.level, ...Object.values(options.levels ?? {})];
  root.level = all.reduce((a, b) => (SEVERITY[b] > SEVERITY[a] ? b : a));
  // A child's own `level` shadows the root's, so isDebugEnabled() and friends answer per component.
  for (const [component, child] of children) child.level = resolveLevel(component);
  const json = opts.format === "json" || (opts.format === "auto" && !process.stdout.isTTY);
  root.format = json
    ? winston.format.combine(
        byComponent(),
        winston.format.timestamp(),
        winston.format.errors({ stack: true }),
        winston.format.json(),
      )
    : winston.format.combine(
        byComponent(),
        winston.format.timestamp({ format: "HH:mm:ss.SSS" }),
        winston.format.errors({ stack: true }),
        winston.format.colorize(),
        winston.format.printf(({ timestamp, level, message, component, ...rest }) => {
          const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : "";
          return `${timestamp} ${level} [${component ?? "gateway"}] ${message}${extra}`;
        }),
      );
}

/** A logger for one component, named hierarchically: `gateway:mqtt`, `gateway:opcua:methods`. */
export function getLogger(component: string): Logger {
  let child = children.get(component);
  if (!child) {
    child = root.child({ component });
    child.level = resolveLevel(component);
    children.set(component, child);
  }
  return child;
}

/** Silences output entirely (CLI subcommands whose stdout is data, and tests). */
export function silenceLogging(silent = true): void {
  root.silent = silent;
}
