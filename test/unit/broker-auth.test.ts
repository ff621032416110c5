import { describe, expect, it } from "vitest";
import { BrokerAuth } from "../../src/mqtt/broker-auth.js";
import { hashPassword, isPasswordHash, verifyPassword } from "../../src/security/password-hash.js";

const pw = (s: string) => Buffer.from(s);

describe("broker password hashes", () => {
  it("are salted scrypt hashes that verify only their own password", async () => {
    const a = hashPassword("s3cret");
    const b = hashPassword("s3cret");
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(isPasswordHash(a)).toBe(true);
    // Salted: the same password never gives the same text.
    expect(a).not.toBe(b);
    expect(await verifyPassword("s3cret", a)).toBe(true);
    expect(await verifyPassword("s3cret", b)).toBe(true);
    expect(await verifyPassword("S3cret", a)).toBe(false);
    expect(await verifyPassword("", a)).toBe(false);
  });

  it("do not take plain text for a hash", async () => {
    expect(isPasswordHash("s3cret")).toBe(false);
    expect(await verifyPassword("s3cret", "s3cret")).toBe(false);
  });
});

describe("the embedded broker's users and ACL", () => {
  const users = [
    { username: "device-11", passwordHash: hashPassword("dev") },
    { username: "scada", passwordHash: hashPassword("scada") },
  ];

  it("lets anyone in, to do anything, without users (the default)", async () => {
    const auth = new BrokerAuth([], {});
    expect(auth.required).toBe(false);
    expect(await auth.authenticate(undefined, undefined)).toBe(true);
    expect(auth.mayPublish(undefined, "11/5/3WA/F/ETU")).toBe(true);
    expect(auth.maySubscribe(undefined, "#")).toBe(true);
  });

  it("with users, admits only a right username and password", async () => {
    const auth = new BrokerAuth(users, {});
    expect(auth.required).toBe(true);
    expect(await auth.authenticate("device-11", pw("dev"))).toBe(true);
    expect(await auth.authenticate("device-11", pw("scada"))).toBe(false);
    expect(await auth.authenticate("nobody", pw("dev"))).toBe(false);
    expect(await auth.authenticate(undefined, undefined)).toBe(false);
    expect(await auth.authenticate("device-11", undefined)).toBe(false);
  });

  it("with an empty ACL, lets every logged-in user publish and subscribe anywhere", () => {
    const auth = new BrokerAuth(users, {});
    expect(auth.mayPublish("device-11", "21/14/3WA/F/ETU")).toBe(true);
    expect(auth.maySubscribe("scada", "#")).toBe(true);
  });

  it("with an ACL, grants each user its filters and nothing else; users it does not name get nothing", () => {
    const auth = new BrokerAuth(users, { "device-11": { publish: ["11/#", "48/+/50/+/PM"], subscribe: [] } });
    expect(auth.mayPublish("device-11", "11/5/3WA/Feeder 01/ETU")).toBe(true);
    expect(auth.mayPublish("device-11", "48/1/50/Group 01/PM")).toBe(true);
    expect(auth.mayPublish("device-11", "21/14/3WA/Feeder 01/ETU")).toBe(false);
    expect(auth.maySubscribe("device-11", "11/#")).toBe(false);
    expect(auth.mayPublish("scada", "11/5/3WA/Feeder 01/ETU")).toBe(false);
    expect(auth.maySubscribe("scada", "11/#")).toBe(false);
    expect(auth.mayPublish(undefined, "11/5/3WA/Feeder 01/ETU")).toBe(false);
  });

  it("does not mistake a username such as `constructor` for an ACL entry", () => {
    const auth = new BrokerAuth(users, { scada: { publish: [], subscribe: ["#"] } });
    expect(auth.mayPublish("constructor", "11/5")).toBe(false);
    expect(auth.maySubscribe("__proto__", "11/5")).toBe(false);
  });
});
