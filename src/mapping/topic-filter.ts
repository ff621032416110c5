/**
 * MQTT topic filters (MQTT 3.1.1 §4.7, MQTT 5 §4.7): `+` is one whole level, `#` the rest (zero or
 * more levels) and only last. Pure functions, for the embedded broker's per-user ACLs.
 */

/** True when `filter` is a well-formed topic filter. */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes("\u0000")) return false;
  const levels = filter.split("/");
  return levels.every((level, i) => {
    // [MQTT-4.7.1-2] `#` alone in its level and last; [MQTT-4.7.1-3] `+` alone in its level.
    if (level.includes("#")) return level === "#" && i === levels.length - 1;
    if (level.includes("+")) return level === "+";
    return true;
  });
}

/** True when the topic name `topic` (no wildcards) matches the topic filter `filter`. */
export function topicMatchesFilter(topic: string, filter: string): boolean {
  // [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic starting with `$`.
  if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) return false;
  const t = topic.split("/");
  const f = filter.split("/");
  for (let i = 0; i < f.length; i++) {
    // `sport/#` also matches `sport`, the parent level (§4.7.1.2).
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return t.length === f.length;
}

/**
 * True when every topic the subscription filter `sub` can match is also matched by `acl`: a
 * subscription is allowed only within what the ACL grants (`11/+/3WA/#` within `11/#`, not `#`).
 */
export function filterCoveredBy(sub: string, acl: string): boolean {
  if (sub.startsWith("$") && /^[+#]/.test(acl)) return false;
  const s = sub.split("/");
  const a = acl.split("/");
  for (let i = 0; i < a.length; i++) {
    if (a[i] === "#") return true;
    if (i >= s.length) return false;
    // A `#` in the subscription reaches deeper than any single ACL level.
    if (s[i] === "#") return false;
    if (a[i] === "+") continue;
    if (s[i] !== a[i]) return false;
  }
  return s.length === a.length;
}

/**
 * True when some topic name matches both filters: two shards whose filters overlap would both
 * mirror the devices of that topic (`+/+/3WA/#` and `11/#` share every 3WA measurement).
 */
export function filtersOverlap(a: string, b: string): boolean {
  const x = a.split("/");
  const y = b.split("/");
  // [MQTT-4.7.2-1] a leading wildcard never matches a `$` topic, which a literal `$` level names.
  const wild = (l: string | undefined) => l === "+" || l === "#";
  if ((wild(x[0]) && y[0]?.startsWith("$")) || (wild(y[0]) && x[0]?.startsWith("$"))) return false;
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] === "#" || y[i] === "#") return true;
    // One filter ended without `#` where the other goes on: no topic has both lengths.
    if (x[i] === undefined || y[i] === undefined) return false;
    if (x[i] !== "+" && y[i] !== "+" && x[i] !== y[i]) return false;
  }
  return true;
}
