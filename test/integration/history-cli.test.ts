import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HistoryStore } from "../../src/history/history-store.js";
import { getLogger } from "../../src/shared/logger.js";
import { runCli } from "../harness/cli.js";
import { waitFor } from "../harness/wait.js";

/**
 * `smartgear-gateway history export|stats` against a real store that stays open for writing
 * throughout, as a running gateway's does: the command opens it read-only beside the writer.
 */

const VOLTAGE = "11/5/3WA/Feeder 01/ETU";
const SERIAL = "21/14/3WA/Feeder 01/ETU";
const T0 = Date.UTC(2026, 10, 29, 8);
/** One value a minute for three hours: the export reads by the hour, so its windows are crossed. */
const MINUTES = 180;
const UNCERTAIN_LAST_USABLE = 0x40900000;

let dir: string;
let config: string;
let store: HistoryStore;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "history-cli-"));
  const folder = join(dir, "history");
  config = join(dir, "gateway.yaml");
  writeFileSync(config, `history: { folder: ${JSON.stringify(folder)} }\n`);
  store = new HistoryStore(
    { folder, flushInterval: 60, maxBacklog: 100_000, retentionDays: 36500, maxBytes: 2 ** 40 },
    getLogger("test:history"),
  );
  expect(store.start()).toBe(true);
  const voltage = store.pointId(VOLTAGE);
  for (let i = 0; i < MINUTES; i++) {
    const t = T0 + i * 60_000;
    const status = i === 7 ? UNCERTAIN_LAST_USABLE : 0;
    store.append(voltage, { value: 230 + i / 100, sourceTime: t, serverTime: t + 5, status }, true);
  }
  store.append(store.pointId(SERIAL), { value: 'SN "7", rev 2', sourceTime: T0, serverTime: T0, status: 0 });
  store.flush();
  await waitFor("the values committed", async () => store.counters.written === MINUTES + 1 || undefined);
}, 30_000);

afterAll(async () => {
  await store?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const iso = (t: number) => new Date(t).toISOString();

describe("history export and history stats, beside the gateway's writer", () => {
  it("exports a point's values with a source time in [from, to) as CSV, across hours, the writer still open", async () => {
    const { code, stdout, stderr } = await runCli([
      "history",
      "export",
      "--point",
      VOLTAGE,
      "--from",
      // Without a zone: UTC.
      iso(T0 + 5 * 60_000).replace("Z", ""),
      "--to",
      iso(T0 + 125 * 60_000),
      "--config",
      config,
    ]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const lines = stdout.split("\r\n");
    expect(lines[0]).toBe("sourceTime,serverTime,value,statusCode,quality");
    // Minutes 5 to 124: the end is not included (as HistoryRead, Part 11 3.1.8); the last line is empty.
    expect(lines).toHaveLength(1 + 120 + 1);
    expect(lines[1]).toBe(`${iso(T0 + 5 * 60_000)},${iso(T0 + 5 * 60_000 + 5)},230.05,0x00000000,Good`);
    expect(lines[3]).toBe(`${iso(T0 + 7 * 60_000)},${iso(T0 + 7 * 60_000 + 5)},230.07,0x40900000,Uncertain`);
    expect(lines[120]).toMatch(/^2026-11-29T10:04:00.000Z,.*,231.24,0x00000000,Good$/);
  });

  it("exports as JSON, quoting a text value in CSV as RFC 4180 says", async () => {
    const args = ["history", "export", "--point", SERIAL, "--from", "2026-11-29", "--to", "2026-11-30"];
    const json = await runCli([...args, "--format", "json", "--config", config]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([
      {
        sourceTime: iso(T0),
        serverTime: iso(T0),
        value: 'SN "7", rev 2',
        statusCode: "0x00000000",
        quality: "Good",
      },
    ]);
    const csv = await runCli([...args, "--config", config]);
    expect(csv.stdout.split("\r\n")[1]).toBe(`${iso(T0)},${iso(T0)},"SN ""7"", rev 2",0x00000000,Good`);
  });

  it("prints the store's points, values, time span and bytes, in all and per family", async () => {
    const json = await runCli(["history", "stats", "--format", "json", "--config", config]);
    expect(json.stderr).toBe("");
    expect(json.code).toBe(0);
    const stats = JSON.parse(json.stdout);
    expect(stats).toMatchObject({
      points: 2,
      values: MINUTES + 1,
      oldest: T0,
      newest: T0 + (MINUTES - 1) * 60_000,
      families: [
        { family: "11", points: 1, values: MINUTES },
        { family: "21", points: 1, values: 1 },
      ],
    });
    expect(stats.bytes).toBeGreaterThan(0);
    const text = await runCli(["history", "stats", "--config", config]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`points   2\nvalues   ${MINUTES + 1}\noldest   ${iso(T0)}\n`);
    expect(text.stdout).toContain("family   points   values\n11            1   180\n21            1   1\n");
  });

  it("names what is missing or wrong: usage errors exit 2, a store or point that is not there 1", {
    timeout: 120_000,
  }, async () => {
    const cases: [string[], number, string][] = [
      [["history"], 2, "history needs an action: export or stats"],
      [["history", "purge"], 2, "history takes export or stats, not 'purge'"],
      [["history", "export", "--point", VOLTAGE], 2, "history export needs --from, --to"],
      [
        ["history", "export", "--point", VOLTAGE, "--from", "yesterday", "--to", "2026-11-30"],
        2,
        "--from must be an ISO 8601 time such as 2026-11-29T08:00:00Z, not 'yesterday'",
      ],
      [
        ["history", "export", "--point", VOLTAGE, "--from", "2026-11-30", "--to", "2026-11-29"],
        2,
        "--from must be before --to",
      ],
      [["history", "stats", "--format", "csv"], 2, "--format must be text or json, not 'csv'"],
      [
        [
          "history",
          "export",
          "--point",
          "11/5/3WA/Feeder 1/ETU",
          "--from",
          "2026-11-29",
          "--to",
          "2026-11-30",
        ],
        1,
        "the store has no point '11/5/3WA/Feeder 1/ETU' (did you mean '11/5/3WA/Feeder 01/ETU'?)",
      ],
    ];
    const runs = await Promise.all(cases.map(([args]) => runCli([...args, "--config", config])));
    runs.forEach((run, i) => {
      const [, code, message] = cases[i]!;
      expect({ code: run.code, first: run.stderr.split("\n")[0] }).toEqual({ code, first: message });
    });
    const empty = join(dir, "empty.yaml");
    writeFileSync(empty, `history: { folder: ${JSON.stringify(join(dir, "nowhere"))} }\n`);
    const none = await runCli(["history", "stats", "--config", empty]);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(
      `no history store at ${join(dir, "nowhere", "history.sqlite")} (history.folder, from the working directory)\n`,
    );
  });
});
