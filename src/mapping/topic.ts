/** `<family>/<id>/<deviceType>/<deviceName>/<deviceSource>`, the one shape of every Sm@rtGear topic. */
export interface ParsedTopic {
  family: string;
  /** `<family>/<id>`, the catalog key. */
  topicId: string;
  deviceType: string;
  deviceName: string;
  deviceSource: string;
  /** `<deviceType>/<deviceName>/<deviceSource>`: one device across families. */
  deviceKey: string;
}

const DIGITS = /^\d{1,9}$/;

/** `<deviceType>/<deviceName>/<deviceSource>`: the one string that names a device. */
export function deviceKeyOf(device: {
  deviceType: string;
  deviceName: string;
  deviceSource: string;
}): string {
  return `${device.deviceType}/${device.deviceName}/${device.deviceSource}`;
}

/** Splits a topic, or returns null when it has not the five-level shape with numeric family and id. */
export function parseTopic(topic: string): ParsedTopic | null {
  const parts = topic.split("/");
  if (parts.length !== 5) return null;
  const [family, id, deviceType, deviceName, deviceSource] = parts as [
    string,
    string,
    string,
    string,
    string,
  ];
  if (!DIGITS.test(family) || !DIGITS.test(id) || !deviceType || !deviceName || !deviceSource) return null;
  const device = { deviceType, deviceName, deviceSource };
  return { family, topicId: `${family}/${id}`, ...device, deviceKey: deviceKeyOf(device) };
}
