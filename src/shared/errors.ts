/** A problem found in a file the user wrote, located so that an editor can jump to it. */
export interface Problem {
  /** The file, or `environment` for an environment override. */
  file: string;
  /** 1-based line; 0 where no line applies (a missing file, an environment variable). */
  line: number;
  message: string;
}

export function formatProblem(p: Problem): string {
  return p.line > 0 ? `${p.file}:${p.line}: ${p.message}` : `${p.file}: ${p.message}`;
}

/** Errors of our own carry a stable code and, where there is one, the cause. */
export class GatewayError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "GatewayError";
  }
}

/** Start-up fails fast with every problem at once, each with file and line. */
export class ProblemsError extends GatewayError {
  constructor(
    code: string,
    what: string,
    readonly problems: readonly Problem[],
  ) {
    super(code, `${what}: ${problems.length} problem(s)\n${problems.map(formatProblem).join("\n")}`);
    this.name = "ProblemsError";
  }
}

/**
 * A listener that could not open its port, named by the configuration key that sets it, so that
 * a user sees what to change (E_LISTEN; `cause` keeps the system error).
 */
export function listenError(key: string, host: string, port: number, cause: unknown): GatewayError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const where = `${host || "all addresses"} port ${port}`;
  const why =
    code === "EADDRINUSE"
      ? `${where} is in use by another program (another gateway?): stop it, or set ${key} to a free port`
      : code === "EACCES"
        ? `${where} needs privileges this process does not have: set ${key} to 1024 or above`
        : `cannot listen on ${where}: ${(cause as Error | undefined)?.message ?? String(cause)}`;
  return new GatewayError("E_LISTEN", `${key}: ${why}`, { cause });
}
