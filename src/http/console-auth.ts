import { randomBytes, timingSafeEqual } from "node:crypto";
import { hashPassword, verifyPassword } from "../security/password-hash.js";
import type { RoleName } from "../security/role-names.js";
import type { UserDef } from "../security/users.js";
import type { Logger } from "../shared/logger.js";
import { RateLimitedLog } from "../shared/rate-limited-log.js";

/** A logged-in browser: who, with which roles, and the token every change it posts must carry. */
export interface ConsoleSession {
  readonly id: string;
  readonly user: string;
  readonly roles: readonly RoleName[];
  readonly csrf: string;
  lastUsed: number;
}

export type LoginOutcome = "ok" | "refused" | "rateLimited";

/** Sessions kept at most: a further login ends the least recently used one. */
const MAX_SESSIONS = 256;
/** Client addresses whose failed logins are counted at most (the oldest window is forgotten first). */
const MAX_ADDRESSES = 1000;
const MINUTE = 60_000;

const token = () => randomBytes(32).toString("base64url");

/** Constant-time comparison of two tokens of any length. */
export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The console's logins: the users of `opcua.usersFile` with a password (a certificate-only user
 * cannot log in to a browser form), sessions in memory (a restart logs everyone out), failed
 * logins limited per client address and minute before the password is even checked.
 */
export class ConsoleAuth {
  /** Logins by outcome, for /metrics. */
  readonly logins: Record<LoginOutcome, number> = { ok: 0, refused: 0, rateLimited: 0 };
  private readonly sessions = new Map<string, ConsoleSession>();
  private readonly attempts = new Map<string, { start: number; count: number }>();
  private readonly byName: Map<string, UserDef>;
  private readonly refusals: RateLimitedLog;
  /** Checked for an unknown user, so that the answer takes as long as for a known one. */
  private decoy: string | null = null;

  constructor(
    users: readonly UserDef[],
    private readonly idleMs: number,
    private readonly attemptsPerMinute: number,
    private readonly logger: Logger,
  ) {
    this.byName = new Map(users.map((u) => [u.username, u]));
    this.refusals = new RateLimitedLog(logger, 5, MINUTE);
  }

  async login(
    username: string,
    password: string,
    address: string,
    now = Date.now(),
  ): Promise<ConsoleSession | Exclude<LoginOutcome, "ok">> {
    let window = this.attempts.get(address);
    if (window && now - window.start >= MINUTE) {
      this.attempts.delete(address);
      window = undefined;
    }
    if (!window) {
      if (this.attempts.size >= MAX_ADDRESSES) this.attempts.delete(this.attempts.keys().next().value!);
      window = { start: now, count: 0 };
      this.attempts.set(address, window);
    }
    if (window.count >= this.attemptsPerMinute) {
      this.logins.rateLimited++;
      this.refusals.warn(`limit ${address}`, "console login refused: too many failed attempts", {
        address,
        username,
        limit: this.attemptsPerMinute,
      });
      return "rateLimited";
    }
    // Counted before the check: parallel attempts cannot all slip under the limit while scrypt runs.
    window.count++;
    const user = this.byName.get(username);
    this.decoy ??= hashPassword(token());
    const ok = await verifyPassword(password, user?.passwordHash ?? this.decoy);
    if (!ok || !user?.passwordHash) {
      this.logins.refused++;
      // Never the password; the user name and address tell an operator who failed.
      this.refusals.warn(`refused ${address}`, "console login refused: wrong user name or password", {
        address,
        username,
      });
      return "refused";
    }
    window.count--;
    this.logins.ok++;
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const session: ConsoleSession = {
      id: token(),
      user: username,
      roles: user.roles,
      csrf: token(),
      lastUsed: now,
    };
    this.sessions.set(session.id, session);
    this.logger.info("console login", { username, roles: user.roles, address });
    return session;
  }

  /** The live session of a cookie value, its idle time restarted; null when unknown or idle too long. */
  session(id: string | undefined, now = Date.now()): ConsoleSession | null {
    const session = id ? this.sessions.get(id) : undefined;
    if (!session) return null;
    this.sessions.delete(session.id);
    if (now - session.lastUsed > this.idleMs) return null;
    session.lastUsed = now;
    // Re-inserted: the map's order is least recently used first, the one a full map ends.
    this.sessions.set(session.id, session);
    return session;
  }

  /** Whether the session is still open (a stream asks before each update, without renewing it). */
  isOpen(session: ConsoleSession, now = Date.now()): boolean {
    return this.sessions.get(session.id) === session && now - session.lastUsed <= this.idleMs;
  }

  logout(session: ConsoleSession): void {
    this.sessions.delete(session.id);
    this.logger.info("console logout", { username: session.user });
  }
}
