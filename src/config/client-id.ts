/** Longest default client id: it also names the reply topic and the on-disk QoS 2 store folder. */
const MAX_DEFAULT_CLIENT_ID = 64;

/**
 * The default MQTT client id, `smartgear-gateway-<hostname>`: stable across restarts (the broker
 * keeps the persistent session under it) and different per machine, so that a second client on a
 * broker does not take over the session by using the id the README documents (issue 15). The host
 * name is cut down to letters, digits, `-` and `_` (what brokers accept beyond [MQTT-3.1.3-5]'s
 * minimum and what is safe in a topic level and a file name).
 */
export function defaultClientId(hostname: string): string {
  const host = hostname
    .replace(/[^A-Za-z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .toLowerCase();
  return `smartgear-gateway${host ? `-${host}` : ""}`.slice(0, MAX_DEFAULT_CLIENT_ID).replace(/-+$/, "");
}
