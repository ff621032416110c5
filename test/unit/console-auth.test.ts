import { describe, expect, it } from "vitest";
import { ConsoleAuth } from "../../src/http/console-auth.js";
import { hashPassword } from "../../src/security/password-hash.js";
import { getLogger, silenceLogging } from "../../src/shared/logger.js";

silenceLogging();
const users = [{ username: "erika", passwordHash: hashPassword("pw"), roles: ["Engineer" as const] }];
const MINUTE = 60_000;

describe("the web console's logins and sessions", () => {
  it("ends a session unused for the idle time, and keeps one in use", async () => {
    const auth = new ConsoleAuth(users, 10 * MINUTE, 5, getLogger("test"));
    const session = await auth.login("erika", "pw", "127.0.0.1", 0);
    if (typeof session === "string") throw new Error(session);
    expect(auth.session(session.id, 9 * MINUTE)).toBe(session);
    expect(auth.session(session.id, 18 * MINUTE)).toBe(session);
    expect(auth.session(session.id, 29 * MINUTE)).toBeNull();
    // Gone for good: a later look does not bring it back.
    expect(auth.session(session.id, 29 * MINUTE)).toBeNull();
  });

  it("refuses a certificate-only user, who has no password to check", async () => {
    const auth = new ConsoleAuth(
      [{ username: "plc", passwordHash: null, roles: ["Engineer"] }],
      MINUTE,
      5,
      getLogger("test"),
    );
    expect(await auth.login("plc", "", "127.0.0.1")).toBe("refused");
    expect(auth.logins).toEqual({ ok: 0, refused: 1, rateLimited: 0 });
  });

  it("limits failed logins per address and minute, and forgets them after the minute", async () => {
    const auth = new ConsoleAuth(users, MINUTE, 2, getLogger("test"));
    expect(await auth.login("erika", "x", "10.0.0.1", 0)).toBe("refused");
    expect(await auth.login("erika", "x", "10.0.0.1", 1)).toBe("refused");
    expect(await auth.login("erika", "pw", "10.0.0.1", 2)).toBe("rateLimited");
    // Another address has its own count.
    expect(typeof (await auth.login("erika", "pw", "10.0.0.2", 3))).toBe("object");
    expect(typeof (await auth.login("erika", "pw", "10.0.0.1", MINUTE + 1))).toBe("object");
  });
});
