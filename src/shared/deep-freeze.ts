/**
 * Freezes `value` and everything it holds (plain data: objects and arrays), so that a mutation
 * throws in strict code instead of changing what other parts read. Returns `value`.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return value;
  // Frozen before its members: data that holds itself (a YAML alias can) ends the walk.
  Object.freeze(value);
  for (const member of Object.values(value)) deepFreeze(member);
  return value;
}
