import winston from "winston";

export type LogLevel = "error" | "warn" | "info" | "debug";
export type LogFormat = "auto" | "json" | "pretty";
export type Logger = winston.Logger;

const root = winston.createLogger({
  level: "info",
  transports: [new winston.transports.Console({ stderrLevels: [] })],
});
configureLogging({ level: "info", format: "auto" });

/** JSON lines in a container (stdout not a terminal), readable lines on a terminal. */
export function configureLogging(opts: { level: LogLevel; format: LogFormat }): void {
  const json = opts.format === "json" || (opts.format === "auto" && !process.stdout.isTTY);
  root.level = opts.level;
  root.format = json
    ? winston.format.combine(
        winston.format.timestamp(),
        winston.format.errors({ stack: true }),
        winston.format.json(),
      )
    : winston.format.combine(
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
  return root.child({ component });
}

/** Silences output entirely (CLI subcommands whose stdout is data, and tests). */
export function silenceLogging(silent = true): void {
  root.silent = silent;
}
