import type { GatewayConfig } from "../config/config-types.js";
import { filterCoveredBy, topicMatchesFilter } from "../mapping/topic-filter.js";
import { hashPassword, verifyPassword } from "../security/password-hash.js";

/**
 * Who may connect to the embedded broker, and what each user may publish and subscribe to (the
 * vendor's "topic-level authorization"). Without users, anyone may do anything, as before. With
 * users, a client must log in as one of them. An empty ACL lets every user do anything; once the
 * ACL names anyone, a user it does not name may do nothing (deny by default, as mosquitto's
 * acl_file). The gateway's own in-process subscriptions are not clients and not subject to it.
 */
export class BrokerAuth {
  private readonly hashes: Map<string, string>;
  private dummyHash: string | null = null;

  constructor(
    users: GatewayConfig["broker"]["users"],
    private readonly acl: GatewayConfig["broker"]["acl"],
  ) {
    this.hashes = new Map(users.map((u) => [u.username, u.passwordHash]));
  }

  /** Whether clients must log in. */
  get required(): boolean {
    return this.hashes.size > 0;
  }

  /** True when `username` and `password` are those of a configured user (or no users exist). */
  async authenticate(username: string | undefined, password: Buffer | undefined): Promise<boolean> {
    if (!this.required) return true;
    if (!username || !password) return false;
    const stored = this.hashes.get(username);
    // An unknown user costs the same scrypt as a known one: the time does not tell who exists.
    this.dummyHash ??= hashPassword("no such user");
    const ok = await verifyPassword(password.toString("utf8"), stored ?? this.dummyHash);
    return ok && stored !== undefined;
  }

  /** May `username` (undefined: anonymous) publish to the topic name `topic`? */
  mayPublish(username: string | undefined, topic: string): boolean {
    const rules = this.rulesOf(username);
    return rules === "all" || rules.publish.some((f) => topicMatchesFilter(topic, f));
  }

  /** May `username` subscribe to the topic filter `filter` (only within what its ACL grants)? */
  maySubscribe(username: string | undefined, filter: string): boolean {
    const rules = this.rulesOf(username);
    return rules === "all" || rules.subscribe.some((f) => filterCoveredBy(filter, f));
  }

  private rulesOf(username: string | undefined): "all" | { publish: string[]; subscribe: string[] } {
    if (Object.keys(this.acl).length === 0) return "all";
    // hasOwn: a username such as `constructor` must not find Object's prototype.
    return username !== undefined && Object.hasOwn(this.acl, username)
      ? this.acl[username]!
      : { publish: [], subscribe: [] };
  }
}
