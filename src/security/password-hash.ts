import { randomBytes, scrypt, scryptSync, timingSafeEqual } from "node:crypto";

/**
 * Salted password hashes for OPC UA users and embedded-broker users, in one self-describing form:
 * `scrypt$N$r$p$<salt base64>$<hash base64>`. Plain text is never stored or accepted.
 */
const N = 16384;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;
const FORMAT = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

export function hashPassword(plain: string): string {
  if (plain.length === 0) throw new Error("an empty password cannot be hashed");
  const salt = randomBytes(16);
  const hash = scryptSync(plain, salt, KEY_LENGTH, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

/** True when the text has the form hashPassword writes (config validation uses it). */
export function isPasswordHash(text: string): boolean {
  return FORMAT.test(text);
}

/**
 * Constant-time check of `plain` against a stored hash; false for an empty password or a bad hash.
 * Asynchronous: scrypt costs tens of milliseconds, and a storm of logins must not stall ingest.
 */
export async function verifyPassword(plain: string, stored: string): Promise<boolean> {
  const m = FORMAT.exec(stored);
  if (!m || plain.length === 0) return false;
  const [, n, r, p, salt, hash] = m as unknown as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, "base64");
  const actual = await new Promise<Buffer>((resolve, reject) =>
    scrypt(
      plain,
      Buffer.from(salt, "base64"),
      expected.length,
      { N: Number(n), r: Number(r), p: Number(p), maxmem: 256 * Number(n) * Number(r) },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
  return timingSafeEqual(actual, expected);
}
