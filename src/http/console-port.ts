import type { PkiEntry } from "../security/pki-store.js";

/**
 * What the web console shows and changes, as a port the app implements (src/app/console-view.ts):
 * http/ never imports opcua/, mqtt/ or the bridge. Every read is a snapshot taken when a page or
 * an update is made; nothing here is on the per-message path.
 */
export interface ConsoleSources {
  overview(): ConsoleOverview;
  /** The devices as the OPC UA address space holds them, at most `limit` (the tree is built from them). */
  devices(limit: number): { devices: ConsoleDevice[]; total: number };
  /** The points below a device node, null when there is no such device. */
  points(deviceNodeId: string): ConsolePoint[] | null;
  /** Active conditions (and inactive ones still waiting for acknowledgement), newest first. */
  alarms(): ConsoleAlarm[];
  /** Application certificates (`applications`) and X.509 user certificates (`users`). */
  certificates(): Record<PkiKind, PkiEntry[]>;
  /** Moves a rejected certificate to trusted (`trust`) or a trusted one to rejected (`reject`). */
  decide(kind: PkiKind, action: "trust" | "reject", thumbprint: string): PkiEntry;
}

export type PkiKind = "applications" | "users";

export interface ConsoleOverview {
  version: string;
  startedAt: number;
  broker: {
    /** The broker's URL without user name or password; for the embedded broker its address. */
    url: string;
    protocol: string;
    connected: boolean;
    /** Epoch ms of the current connection; null while not connected. */
    since: number | null;
  };
  /** Messages per second since the previous overview (or since start). */
  rates: { received: number; decoded: number; rejected: number };
  totals: { received: number; decoded: number; rejected: number };
  /** Reject reasons with a count above 0. */
  rejectsBy: [string, number][];
  devices: { total: number; online: number; offline: number; unknown: number };
  points: number;
  opcua: { endpoint: string; sessions: number; subscriptions: number; rejectedSessions: number };
}

export interface ConsoleDevice {
  nodeId: string;
  /** The browse path below Objects/SmartGear/Devices: type, name, source. */
  path: [string, string, string];
  online: boolean | null;
}

export interface ConsolePoint {
  nodeId: string;
  /** Browse names below the device, slash-joined (catalog folders and the point). */
  path: string;
  value: string;
  unit: string;
  status: string;
  /** ISO time, empty when none. */
  sourceTimestamp: string;
}

export interface ConsoleAlarm {
  nodeId: string;
  source: string;
  message: string;
  severity: number;
  /** ISO time of the value that changed the condition. */
  time: string;
  active: boolean;
  acknowledged: boolean;
}
