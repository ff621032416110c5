/**
 * A device's identity: the last three levels of every topic it publishes,
 * `<family>/<id>/<deviceType>/<deviceName>/<deviceSource>`. A parsed data topic, a status topic, a
 * reply topic, a declared device and the gateway's state of a device each carry one; nothing else
 * names a device.
 */
export interface DeviceId {
  readonly deviceType: string;
  readonly deviceName: string;
  readonly deviceSource: string;
}

/** The parts of a DeviceId, in topic order: also the placeholders a topic template may name them by. */
export const DEVICE_ID_PARTS = [
  "deviceType",
  "deviceName",
  "deviceSource",
] as const satisfies readonly (keyof DeviceId)[];

/**
 * `<deviceType>/<deviceName>/<deviceSource>`: the one string that names a device, as a map key,
 * in NodeIds, log lines and metrics, and as the tail of its reply topic.
 */
export function deviceKeyOf(id: DeviceId): string {
  return `${id.deviceType}/${id.deviceName}/${id.deviceSource}`;
}

/** A device as the configuration declares it (config key `devices`; users write these YAML keys). */
export interface DeviceDeclaration {
  type: string;
  name: string;
  source: string;
}

/** The identity a declared device has, the same as the one its topics will carry. */
export function declaredDeviceId(d: DeviceDeclaration): DeviceId {
  return { deviceType: d.type, deviceName: d.name, deviceSource: d.source };
}
