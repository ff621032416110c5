import { isValidTopicFilter } from "../mapping/topic-filter.js";
import { isPasswordHash } from "../security/password-hash.js";
import type { Problem } from "../shared/errors.js";
import type { YamlSource } from "../shared/yaml-source.js";
import type { GatewayConfig } from "./config-types.js";

/**
 * The MQTT security keys that the schema alone cannot check: secrets given twice, a certificate
 * without its key, plain-text broker passwords, ACLs naming nobody (and history.postgres's
 * password given twice). Files are only named here;
 * they are read (and their absence reported) when the gateway starts.
 */
export function checkMqttSecurity(
  config: GatewayConfig,
  src: Pick<YamlSource, "file" | "lineOf">,
): Problem[] {
  const problems: Problem[] = [];
  const at = (path: (string | number)[], message: string) =>
    problems.push({ file: src.file, line: src.lineOf(path), message });
  const { mqtt, broker } = config;

  if (mqtt.password && mqtt.passwordFile)
    at(["mqtt", "passwordFile"], "mqtt.password and mqtt.passwordFile exclude each other: set one");
  const { postgres } = config.history;
  if (postgres.password && postgres.passwordFile)
    at(
      ["history", "postgres", "passwordFile"],
      "history.postgres.password and history.postgres.passwordFile exclude each other: set one",
    );
  if (mqtt.tls.keyPassphrase && mqtt.tls.keyPassphraseFile)
    at(
      ["mqtt", "tls", "keyPassphraseFile"],
      "mqtt.tls.keyPassphrase and mqtt.tls.keyPassphraseFile exclude each other: set one",
    );
  if (Boolean(mqtt.tls.certFile) !== Boolean(mqtt.tls.keyFile))
    at(
      ["mqtt", "tls"],
      "mqtt.tls.certFile and mqtt.tls.keyFile go together: a client certificate needs its key",
    );
  if ((mqtt.tls.keyPassphrase || mqtt.tls.keyPassphraseFile) && !mqtt.tls.keyFile)
    at(["mqtt", "tls"], "a key passphrase is set but mqtt.tls.keyFile is not");

  if (broker.tls.enabled && (!broker.tls.certFile || !broker.tls.keyFile))
    at(["broker", "tls"], "broker.tls.enabled needs broker.tls.certFile and broker.tls.keyFile");
  if (broker.tls.requireClientCertificate && !broker.tls.caFile)
    at(
      ["broker", "tls", "requireClientCertificate"],
      "broker.tls.requireClientCertificate needs broker.tls.caFile, the CA that signs client certificates",
    );
  if (!broker.plainListener && !broker.tls.enabled)
    at(
      ["broker", "plainListener"],
      "broker.plainListener is false and broker.tls.enabled is not: no listener",
    );

  // As mosquitto 2's allow_anonymous: an open broker stays on loopback unless someone said so.
  const anonymous =
    broker.users.length === 0 && (broker.plainListener || !broker.tls.requireClientCertificate);
  if (!mqtt.url && anonymous && !isLoopback(broker.host) && !broker.allowAnonymousOnNetwork)
    at(
      ["broker", "host"],
      `broker.host ${JSON.stringify(broker.host)} is not loopback and broker.users is empty: anyone who reaches the embedded broker could publish and subscribe. Add broker.users, or set broker.allowAnonymousOnNetwork: true to accept that risk`,
    );

  const consoleTls = config.http.console.tls;
  if (Boolean(consoleTls.certFile) !== Boolean(consoleTls.keyFile))
    at(
      ["http", "console", "tls"],
      "http.console.tls.certFile and http.console.tls.keyFile go together (neither: the OPC UA server's own certificate)",
    );

  const usernames = new Set<string>();
  broker.users.forEach((user, i) => {
    if (usernames.has(user.username))
      at(["broker", "users", i, "username"], `broker user '${user.username}' is declared twice`);
    usernames.add(user.username);
    // The value is never echoed: it may be a password someone pasted.
    if (!isPasswordHash(user.passwordHash))
      at(
        ["broker", "users", i, "passwordHash"],
        `broker.users.${i}.passwordHash: not a password hash (plain text is refused); make one with smartgear-gateway hash-password`,
      );
  });
  for (const [username, rules] of Object.entries(broker.acl)) {
    if (!usernames.has(username))
      at(["broker", "acl", username], `broker.acl names '${username}', who is not in broker.users`);
    for (const kind of ["publish", "subscribe"] as const)
      rules[kind].forEach((filter, i) => {
        if (!isValidTopicFilter(filter))
          at(
            ["broker", "acl", username, kind, i],
            `broker.acl.${username}.${kind}: '${filter}' is not a topic filter (+ and # stand alone in their level, # only last)`,
          );
      });
  }
  return problems;
}

/** A host name or address that only this machine reaches. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(host);
}
