import { DEVICE_ID_PARTS, type DeviceId } from "../model/device-identity.js";

/**
 * Device status topics (a device's last will, or a status it publishes itself), configured as a
 * template such as `status/{deviceType}/{deviceName}/{deviceSource}`: the MQTT subscription filter
 * it needs, and the device a topic names.
 */
export class StatusTopics {
  private readonly levels: string[];

  constructor(readonly template: string) {
    this.levels = template.split("/");
  }

  /** The subscription filter: every placeholder level becomes `+`. */
  get filter(): string {
    return this.levels.map((l) => (/^\{[A-Za-z]+\}$/.test(l) ? "+" : l)).join("/");
  }

  /** The device a status topic names, or null when the topic is not a status topic. */
  match(topic: string): DeviceId | null {
    const parts = topic.split("/");
    if (parts.length !== this.levels.length) return null;
    const found: Partial<Record<keyof DeviceId, string>> = {};
    for (let i = 0; i < parts.length; i++) {
      const level = this.levels[i]!;
      const name = /^\{([A-Za-z]+)\}$/.exec(level)?.[1] as keyof DeviceId | undefined;
      if (name) {
        if (!parts[i]) return null;
        found[name] = parts[i];
      } else if (parts[i] !== level) return null;
    }
    const { deviceType, deviceName, deviceSource } = found;
    return deviceType && deviceName && deviceSource ? { deviceType, deviceName, deviceSource } : null;
  }

  /** The placeholders a template lacks (all three are needed to name a device). */
  static missingPlaceholders(template: string): string[] {
    return DEVICE_ID_PARTS.filter((p) => !template.includes(`{${p}}`));
  }
}

/**
 * online/offline, true/false, 1/0, connected/disconnected (any case), or a JSON object with
 * `status`/`state` or `online`: the device's word on whether it is up; null when unreadable.
 */
export function parseStatus(payload: Uint8Array): boolean | null {
  const text = Buffer.from(payload).toString("utf8").trim();
  const word = (w: unknown): boolean | null => {
    if (typeof w === "boolean") return w;
    if (typeof w !== "string" && typeof w !== "number") return null;
    const s = String(w).trim().toLowerCase();
    if (["online", "true", "1", "connected", "up"].includes(s)) return true;
    if (["offline", "false", "0", "disconnected", "down"].includes(s)) return false;
    return null;
  };
  if (text.startsWith("{")) {
    try {
      const doc = JSON.parse(text) as Record<string, unknown>;
      for (const key of ["online", "status", "state"]) if (Object.hasOwn(doc, key)) return word(doc[key]);
    } catch {
      return null;
    }
    return null;
  }
  return word(text.replace(/^"|"$/g, ""));
}
