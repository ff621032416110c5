/** The roles a gateway user can hold (OPC UA Part 18, 4.3), each including the rights of the one before. */
export const ROLES = ["Observer", "Operator", "Engineer"] as const;
export type RoleName = (typeof ROLES)[number];

/** True when a caller holding `held` has at least the rights of `needed`. */
export function satisfies(held: readonly RoleName[], needed: RoleName): boolean {
  return held.some((r) => ROLES.indexOf(r) >= ROLES.indexOf(needed));
}
