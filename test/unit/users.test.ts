import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hashPassword, isPasswordHash, verifyPassword } from "../../src/security/password-hash.js";
import { satisfies } from "../../src/security/role-names.js";
import { checkUsers } from "../../src/security/users.js";

const dir = mkdtempSync(join(tmpdir(), "smartgear-users-"));
const usersFile = (text: string) => {
  const file = join(dir, `users-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return file;
};

describe("password hashes", () => {
  it("verifies the right password only, with a salt of its own each time", async () => {
    const a = hashPassword("correct horse");
    expect(isPasswordHash(a)).toBe(true);
    expect(a).not.toBe(hashPassword("correct horse"));
    expect(await verifyPassword("correct horse", a)).toBe(true);
    expect(await verifyPassword("correct horsE", a)).toBe(false);
    expect(await verifyPassword("", a)).toBe(false);
    expect(await verifyPassword("correct horse", "correct horse")).toBe(false);
  });

  it("refuses to hash an empty password", () => {
    expect(() => hashPassword("")).toThrow(/empty/);
  });
});

describe("the users file", () => {
  const hash = hashPassword("pw");

  it("reads users with hashes and roles, and certificate users without a hash", () => {
    const { users, problems } = checkUsers(
      usersFile(
        `users:\n  - { username: a, passwordHash: "${hash}", roles: [Operator] }\n  - { username: plc, roles: [Engineer] }\n`,
      ),
    );
    expect(problems).toEqual([]);
    expect(users).toEqual([
      { username: "a", passwordHash: hash, roles: ["Operator"] },
      { username: "plc", passwordHash: null, roles: ["Engineer"] },
    ]);
  });

  it("refuses plain-text passwords, bad hashes, duplicates, unknown roles and users without a role, with lines", () => {
    const file = usersFile(
      [
        "users:",
        `  - { username: a, passwordHash: "${hash}", roles: [Observer] }`,
        "  - { username: b, password: secret, roles: [Observer] }",
        "  - { username: c, passwordHash: secret, roles: [Observer] }",
        `  - { username: a, passwordHash: "${hash}", roles: [Observer] }`,
        "",
      ].join("\n"),
    );
    const { users, problems } = checkUsers(file);
    expect(users).toBeUndefined();
    expect(problems.map((p) => `${p.line} ${p.message}`)).toEqual([
      "3 user b: plain-text passwords are refused; store a hash from `smartgear-gateway hash-password` as passwordHash",
      "4 user c: passwordHash is not a hash written by `smartgear-gateway hash-password`",
      "5 user a: is declared twice",
    ]);
    const roles = checkUsers(
      usersFile("users:\n  - { username: x, roles: [Admin] }\n  - { username: y, roles: [] }\n"),
    );
    expect(roles.problems.map((p) => p.line)).toEqual([2, 3]);
  });
});

describe("roles", () => {
  it("include the rights of the roles before them: Observer < Operator < Engineer", () => {
    expect(satisfies(["Operator"], "Observer")).toBe(true);
    expect(satisfies(["Operator"], "Operator")).toBe(true);
    expect(satisfies(["Operator"], "Engineer")).toBe(false);
    expect(satisfies(["Observer"], "Operator")).toBe(false);
    expect(satisfies([], "Observer")).toBe(false);
  });
});
