import { existsSync } from "node:fs";
import type { Problem } from "../shared/errors.js";
import { compileOnFirstUse } from "../shared/schema.js";
import { readYamlFile, schemaProblems } from "../shared/yaml-source.js";
import { isPasswordHash } from "./password-hash.js";
import { ROLES, type RoleName } from "./role-names.js";

/** One OPC UA user: a password hash, or none for a user who logs in with an X.509 certificate. */
export interface UserDef {
  username: string;
  /** scrypt hash from `smartgear-gateway hash-password`; absent: certificate login only. */
  passwordHash: string | null;
  roles: RoleName[];
}

const usersSchema = {
  type: "object",
  additionalProperties: false,
  required: ["users"],
  properties: {
    users: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["username", "roles"],
        properties: {
          username: { type: "string", minLength: 1 },
          passwordHash: { type: "string", minLength: 1 },
          // Named only to give a precise answer: plain text is refused below.
          password: {},
          roles: { type: "array", minItems: 1, uniqueItems: true, items: { enum: ROLES } },
        },
      },
    },
  },
} as const;

/** What a named users file that is not there gets: how to write one. */
export const USERS_FILE_MISSING =
  "the users file (opcua.usersFile) does not exist: nobody can log in. Make one: `printf '%s' 'a passphrase' | smartgear-gateway hash-password` prints a hash; write it as `users: [{ username: engineer, passwordHash: \"<hash>\", roles: [Engineer] }]` (README, Security)";

const validator = compileOnFirstUse<{
  users: { username: string; passwordHash?: string; password?: unknown; roles: RoleName[] }[];
}>(usersSchema);

/**
 * Reads the users file. A user with a user name is either a password user (with a salted hash) or
 * a certificate user (none): an X.509 user certificate whose subject CN is the user name, trusted
 * in the users' PKI. Plain-text and empty passwords are refused with the line they stand on.
 */
export function checkUsers(file: string): { users?: UserDef[]; problems: Problem[] } {
  // The file a site adds to its volume (config/industrial-edge.yaml names one there): say how.
  if (!existsSync(file)) return { problems: [{ file, line: 0, message: USERS_FILE_MISSING }] };
  const src = readYamlFile(file);
  if (src.problems.length > 0) return { problems: src.problems };
  const validate = validator();
  if (!validate(src.data)) return { problems: schemaProblems(src, validate.errors) };
  const problems: Problem[] = [];
  const seen = new Set<string>();
  src.data.users.forEach((u, i) => {
    const at = (message: string) =>
      problems.push({ file, line: src.lineOf(["users", i]), message: `user ${u.username}: ${message}` });
    if (u.password !== undefined)
      at(
        "plain-text passwords are refused; store a hash from `smartgear-gateway hash-password` as passwordHash",
      );
    if (u.passwordHash !== undefined && !isPasswordHash(u.passwordHash))
      at("passwordHash is not a hash written by `smartgear-gateway hash-password`");
    if (seen.has(u.username)) at("is declared twice");
    seen.add(u.username);
  });
  if (problems.length > 0) return { problems };
  return {
    users: src.data.users.map((u) => ({
      username: u.username,
      passwordHash: u.passwordHash ?? null,
      roles: u.roles,
    })),
    problems,
  };
}
