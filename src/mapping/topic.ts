import type { DeviceId } from "../model/device-identity.js";

/** `<family>/<id>/<deviceType>/<deviceName>/<deviceSource>`, the one shape of every Sm@rtGear topic. */
export interface ParsedTopic extends DeviceId {
  family: string;
  /** `<family>/<id>`, the catalog key. */
  topicId: string;
  /** `<deviceType>/<deviceName>/<deviceSource>`: one device across families. */
  deviceKey: string;
}

const DIGITS = /^\d{1,9}$/;

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
  // The topic's last three levels are deviceKeyOf's `<deviceType>/<deviceName>/<deviceSource>`
  // already: a slice, rather than an object and a string built again (100,000 at a restore).
  const topicId = topic.slice(0, family.length + id.length + 1);
  return {
    family,
    topicId,
    deviceType,
    deviceName,
    deviceSource,
    deviceKey: topic.slice(topicId.length + 1),
  };
}
