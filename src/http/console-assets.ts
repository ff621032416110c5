/**
 * The console's one stylesheet and one script, served from memory (no build chain, no files to
 * ship beside dist/). The script is small on purpose: copy a NodeId, apply the live updates of the
 * Devices page (server-sent events), reload the Overview and Alarms pages now and then.
 */

export const CONSOLE_CSS = `
:root { font-family: system-ui, sans-serif; color: #1d2733; background: #f4f6f8; }
body { margin: 0; }
header { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.2rem; background: #00646e; color: #fff; }
header nav { display: flex; align-items: center; gap: 1rem; flex: 1; }
header a { color: #fff; text-decoration: none; padding: .2rem .4rem; }
header a[aria-current] { border-bottom: 2px solid #fff; }
header .who { margin-left: auto; opacity: .85; }
header form { margin: 0; }
main { padding: 1rem 1.2rem; }
h1 { margin-top: 0; font-size: 1.4rem; }
h2 { font-size: 1.1rem; margin: 1.2rem 0 .4rem; }
section { background: #fff; border-radius: 6px; padding: .6rem 1rem; margin-bottom: 1rem; box-shadow: 0 1px 2px #0002; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1.2rem; margin: 0; }
dt { color: #55606c; }
dd { margin: 0; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #e1e5ea; vertical-align: top; }
td code { font-size: .8rem; }
td.time, td.nodeid { white-space: nowrap; }
button { cursor: pointer; }
button.trust { background: #1f7a3a; color: #fff; border: 0; padding: .25rem .7rem; border-radius: 4px; }
button.reject { background: #a33; color: #fff; border: 0; padding: .25rem .7rem; border-radius: 4px; }
td.list.rejected { color: #a33; font-weight: 600; }
td.list.trusted { color: #1f7a3a; font-weight: 600; }
.split { display: grid; grid-template-columns: minmax(10rem, 14rem) minmax(0, 1fr); gap: 1rem; align-items: start; }
.detail { overflow-x: auto; }
aside { background: #fff; border-radius: 6px; padding: .6rem 1rem; box-shadow: 0 1px 2px #0002; }
.tree, .tree ul { list-style: none; padding-left: 1rem; margin: 0; }
.tree { padding-left: 0; }
.tree a[aria-current] { font-weight: 700; }
.state { font-size: .75rem; padding: 0 .3rem; border-radius: 3px; background: #ddd; }
.state.online { background: #cdebd5; }
.state.offline { background: #f3cccc; }
.error { color: #a33; }
.notice { color: #1f7a3a; }
.hint, .empty, .path { color: #55606c; }
form.login { display: grid; gap: .6rem; max-width: 20rem; }
form.login input { display: block; width: 100%; padding: .3rem; }
`;

export const CONSOLE_JS = `"use strict";
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const done = () => { button.textContent = "Copied"; setTimeout(() => { button.textContent = "Copy"; }, 1500); };
  if (navigator.clipboard) navigator.clipboard.writeText(button.dataset.copy).then(done, () => {});
});
const stream = document.body.dataset.stream;
if (stream) {
  const live = document.getElementById("live");
  const source = new EventSource(stream);
  source.onopen = () => { live.textContent = "connected"; };
  source.onerror = () => { live.textContent = "reconnecting…"; };
  // Rows by NodeId, looked up once: an update touches only its cells, and flashes without a forced layout.
  const rows = new Map([...document.querySelectorAll("tr[data-node-id]")].map((row) => [row.dataset.nodeId, row]));
  source.addEventListener("points", (event) => {
    for (const p of JSON.parse(event.data)) {
      const row = rows.get(p.nodeId);
      if (!row) continue;
      const [value, status, time] = ["value", "status", "time"].map((c) => row.querySelector("." + c));
      if (value.textContent === p.value && status.textContent === p.status && time.textContent === p.sourceTimestamp) continue;
      value.textContent = p.value;
      status.textContent = p.status;
      time.textContent = p.sourceTimestamp;
      row.animate([{ backgroundColor: "#fff3b0" }, { backgroundColor: "transparent" }], 1000);
    }
  });
}
const refresh = Number(document.body.dataset.refresh);
if (refresh > 0) setTimeout(() => location.reload(), refresh * 1000);
`;

/** The tab's icon (a browser asks for one; without it every page logs a 404). */
export const CONSOLE_ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#00646e"/><path d="M4 8h8M8 4v8" stroke="#fff" stroke-width="2"/></svg>`;
