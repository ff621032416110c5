import { createRequire } from "node:module";
import type { MqttClient } from "mqtt";
import { GatewayError } from "../shared/errors.js";

/**
 * Every place where the gateway reaches past MQTT.js's documented API is here:
 *
 * | what | reaches | keeps |
 * | --- | --- | --- |
 * | sendPingreq | MqttClient.sendPing (declared, undocumented; the KeepaliveManager's own call) | [MQTT-3.12.4-1]: a PINGREQ the broker answers with a PINGRESP, sent by the keep-alive watchdog |
 * | MQTT_JS_KEEPALIVE_TIMEOUT | the message of the error MqttClient.onKeepaliveTimeout emits | [MQTT-3.1.2-24]: a link MQTT.js ended for its silence is counted as the watchdog's are |
 *
 * Written for, and tested against (test/unit/mqtt-js-internals.test.ts), one MQTT.js release: on
 * any other the gateway refuses to start rather than watch its link with a call that may have changed.
 */
export const MQTT_JS_VERSION = "5.16.0";

/** The message of the error MQTT.js emits when it ends a connection on its own keep-alive timer. */
export const MQTT_JS_KEEPALIVE_TIMEOUT = "Keepalive timeout";

/** The MQTT.js release installed beside the gateway. */
export const installedMqttJsVersion = (): string =>
  (createRequire(import.meta.url)("mqtt/package.json") as { version: string }).version;

/** Throws E_MQTT_JS_VERSION unless `found` is the release this module was written for. */
export function checkMqttJsVersion(found: string = installedMqttJsVersion()): void {
  if (found !== MQTT_JS_VERSION)
    throw new GatewayError(
      "E_MQTT_JS_VERSION",
      `mqtt (MQTT.js) ${found} is installed, but the gateway's use of its internals (src/mqtt/mqtt-js-internals.ts) was written and tested for ${MQTT_JS_VERSION}: install ${MQTT_JS_VERSION} (npm ci), or review that module against ${found} and change MQTT_JS_VERSION`,
    );
}

/**
 * Writes a PINGREQ now, as MQTT.js's KeepaliveManager does after a keep-alive of silence. Only on
 * a connected client: before CONNACK MQTT.js would queue it for the next connection.
 */
export function sendPingreq(client: MqttClient): void {
  if (client.connected) client.sendPing();
}
