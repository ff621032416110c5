import type { PkiEntry } from "../security/pki-store.js";
import { satisfies } from "../security/role-names.js";
import type { ConsoleSession } from "./console-auth.js";
import type { ConsoleAlarm, ConsoleDevice, ConsoleOverview, ConsolePoint, PkiKind } from "./console-port.js";

/**
 * The console's pages, rendered on the server as plain HTML (no build chain, nothing to bundle);
 * the one script (console-assets.ts) only copies NodeIds and applies live updates. Everything
 * that comes from a device, a certificate or a user is escaped here.
 */

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
export const esc = (text: unknown): string => String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const PAGES = [
  ["overview", "Overview"],
  ["devices", "Devices"],
  ["certificates", "Certificates"],
  ["alarms", "Alarms"],
] as const;
export type PageName = (typeof PAGES)[number][0];

/** The frame of every page: navigation, who is logged in, the logout button. */
export function layout(
  title: string,
  body: string,
  session: ConsoleSession | null,
  current?: PageName,
  attributes = "",
): string {
  const nav = session
    ? `<nav>${PAGES.map(
        ([page, label]) =>
          `<a href="/console/${page}"${page === current ? ' aria-current="page"' : ""}>${label}</a>`,
      ).join("")}<span class="who">${esc(session.user)} (${esc(session.roles.join(", "))})</span>
<form method="post" action="/console/logout"><input type="hidden" name="csrf" value="${esc(session.csrf)}"><button>Log out</button></form></nav>`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Sm@rtGear Gateway</title><link rel="stylesheet" href="/console/assets/console.css"><link rel="icon" href="/console/assets/icon.svg">
<script src="/console/assets/console.js" defer></script></head>
<body${attributes}><header><strong>Sm@rtGear Gateway</strong>${nav}</header><main><h1>${esc(title)}</h1>${body}</main></body></html>`;
}

export function loginPage(message: string, username = ""): string {
  return layout(
    "Log in",
    `${message ? `<p class="error" role="alert">${esc(message)}</p>` : ""}
<form method="post" action="/console/login" class="login">
<label>User name <input name="username" autocomplete="username" required value="${esc(username)}"></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button>Log in</button></form>
<p class="hint">The users of <code>opcua.usersFile</code> with a password (README, Web console).</p>`,
    null,
  );
}

export function messagePage(session: ConsoleSession | null, title: string, message: string): string {
  return layout(
    title,
    `<p class="error" role="alert">${esc(message)}</p><p><a href="/console">Back</a></p>`,
    session,
  );
}

const time = (ms: number | null) => (ms ? new Date(ms).toISOString() : "—");
const duration = (ms: number) => {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h ${Math.floor((s % 3600) / 60)} min ${s % 60} s`;
};
const table = (head: readonly string[], rows: readonly string[], empty: string, attrs = "") =>
  rows.length === 0
    ? `<p class="empty">${esc(empty)}</p>`
    : `<table${attrs}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
const pairs = (rows: [string, unknown][]) =>
  `<dl>${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>`;

export function overviewPage(session: ConsoleSession, o: ConsoleOverview, now = Date.now()): string {
  const b = o.broker;
  return layout(
    "Overview",
    `<section><h2>Broker link</h2>${pairs([
      ["URL", b.url],
      ["Protocol", b.protocol || "—"],
      ["State", b.connected ? "connected" : "not connected"],
      ["Connected since", time(b.since)],
    ])}</section>
<section><h2>Messages</h2>${table(
      ["", "per second", "total"],
      (["received", "decoded", "rejected"] as const).map(
        (k) => `<tr><th>${k}</th><td>${o.rates[k].toFixed(1)}</td><td>${o.totals[k]}</td></tr>`,
      ),
      "",
    )}<h3>Rejects by reason</h3>${table(
      ["reason", "messages"],
      o.rejectsBy.map(([reason, n]) => `<tr><td><code>${esc(reason)}</code></td><td>${n}</td></tr>`),
      "No message rejected.",
    )}</section>
<section><h2>Devices</h2>${pairs([
      ["Devices", o.devices.total],
      ["Online", o.devices.online],
      ["Offline", o.devices.offline],
      ["Not heard from yet", o.devices.unknown],
      ["Points", o.points],
    ])}</section>
<section><h2>OPC UA</h2>${pairs([
      ["Endpoint", o.opcua.endpoint || "not listening"],
      ["Sessions", o.opcua.sessions],
      ["Subscriptions", o.opcua.subscriptions],
      ["Sessions refused", o.opcua.rejectedSessions],
    ])}</section>
<section><h2>Gateway</h2>${pairs([
      ["Version", o.version],
      ["Up for", duration(now - o.startedAt)],
    ])}</section>`,
    session,
    "overview",
    ' data-refresh="5"',
  );
}

/** The rows of a device's points; the script finds a row by its NodeId to update it. */
export function pointRow(p: ConsolePoint): string {
  return `<tr data-node-id="${esc(p.nodeId)}"><td>${esc(p.path)}</td><td class="value">${esc(p.value)}</td><td>${esc(p.unit)}</td><td class="status">${esc(p.status)}</td><td class="time">${esc(p.sourceTimestamp)}</td><td class="nodeid"><code>${esc(p.nodeId)}</code> <button type="button" class="copy" data-copy="${esc(p.nodeId)}" title="Copy the NodeId">Copy</button></td></tr>`;
}

export function devicesPage(
  session: ConsoleSession,
  list: { devices: ConsoleDevice[]; total: number },
  selected: { device: ConsoleDevice; points: ConsolePoint[] } | null,
): string {
  // Objects › SmartGear › Devices › type › name › source, as an OPC UA client browses it.
  const byType = new Map<string, Map<string, ConsoleDevice[]>>();
  for (const d of list.devices) {
    const names = byType.get(d.path[0]) ?? new Map<string, ConsoleDevice[]>();
    byType.set(d.path[0], names);
    names.set(d.path[1], [...(names.get(d.path[1]) ?? []), d]);
  }
  const state = (d: ConsoleDevice) => (d.online === null ? "unknown" : d.online ? "online" : "offline");
  const tree = [...byType]
    .map(
      ([type, names]) =>
        `<li><details open><summary>${esc(type)}</summary><ul>${[...names]
          .map(
            ([name, devices]) =>
              `<li><details open><summary>${esc(name)}</summary><ul>${devices
                .map(
                  (d) =>
                    `<li><a href="/console/devices?node=${encodeURIComponent(d.nodeId)}"${d === selected?.device ? ' aria-current="true"' : ""}>${esc(d.path[2])}</a> <span class="state ${state(d)}">${state(d)}</span></li>`,
                )
                .join("")}</ul></details></li>`,
          )
          .join("")}</ul></details></li>`,
    )
    .join("");
  const more =
    list.total > list.devices.length
      ? `<p class="hint">${list.devices.length} of ${list.total} devices shown.</p>`
      : "";
  const detail = selected
    ? `<h2>${esc(selected.device.path.join(" / "))}</h2><p class="hint">Live: <span id="live">connecting…</span> · NodeId of the device: <code>${esc(selected.device.nodeId)}</code> <button type="button" class="copy" data-copy="${esc(selected.device.nodeId)}">Copy</button></p>${table(
        ["point", "value", "unit", "status", "source timestamp", "NodeId"],
        selected.points.map(pointRow),
        "No points yet.",
        ' id="points"',
      )}`
    : `<p class="hint">Choose a device.</p>`;
  return layout(
    "Devices",
    `<div class="split"><aside><p class="path">Objects › SmartGear › Devices</p><ul class="tree">${tree || "<li>No device yet.</li>"}</ul>${more}</aside><section class="detail">${detail}</section></div>`,
    session,
    "devices",
    selected ? ` data-stream="/console/events?node=${esc(encodeURIComponent(selected.device.nodeId))}"` : "",
  );
}

const KIND_TITLES: Record<PkiKind, string> = {
  applications: "Client application certificates",
  users: "X.509 user certificates",
};

export function certificatesPage(
  session: ConsoleSession,
  lists: Record<PkiKind, PkiEntry[]>,
  notice = "",
): string {
  const engineer = satisfies(session.roles, "Engineer");
  const action = (kind: PkiKind, e: PkiEntry) => {
    const verb = e.list === "rejected" ? "trust" : e.list === "trusted" ? "reject" : null;
    if (!verb || !engineer) return "";
    return `<form method="post" action="/console/certificates/${verb}"><input type="hidden" name="csrf" value="${esc(session.csrf)}"><input type="hidden" name="kind" value="${kind}"><input type="hidden" name="thumbprint" value="${esc(e.thumbprint)}"><button class="${verb}">${verb === "trust" ? "Trust" : "Reject"}</button></form>`;
  };
  const sections = (Object.keys(KIND_TITLES) as PkiKind[]).map(
    (kind) =>
      `<section><h2>${KIND_TITLES[kind]}</h2>${table(
        ["list", "subject", "application URI", "thumbprint", "valid from", "valid to", ""],
        lists[kind].map(
          (e) =>
            `<tr data-thumbprint="${esc(e.thumbprint)}"><td class="list ${esc(e.list)}">${esc(e.list)}</td><td>${esc(e.subject)}</td><td>${esc(e.applicationUri)}</td><td><code>${esc(e.thumbprint)}</code></td><td>${esc(e.validFrom)}</td><td>${esc(e.validTo)}</td><td>${action(kind, e)}</td></tr>`,
        ),
        "None.",
      )}</section>`,
  );
  return layout(
    "Certificates",
    `${notice ? `<p class="notice" role="status">${esc(notice)}</p>` : ""}${
      engineer ? "" : '<p class="hint">Trusting and rejecting certificates needs the Engineer role.</p>'
    }${sections.join("")}`,
    session,
    "certificates",
  );
}

export function alarmsPage(session: ConsoleSession, alarms: ConsoleAlarm[]): string {
  return layout(
    "Alarms",
    table(
      ["severity", "time", "source", "message", "state", "acknowledged", "NodeId"],
      alarms.map(
        (a) =>
          `<tr><td class="severity">${a.severity}</td><td>${esc(a.time)}</td><td>${esc(a.source)}</td><td>${esc(a.message)}</td><td>${a.active ? "active" : "inactive"}</td><td>${a.acknowledged ? "yes" : "no"}</td><td><code>${esc(a.nodeId)}</code></td></tr>`,
      ),
      "No active alarm.",
    ),
    session,
    "alarms",
    ' data-refresh="5"',
  );
}
