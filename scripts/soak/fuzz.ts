import { runIngestFuzz } from "../../test/harness/ingest-fuzz.js";
import { MB } from "../../test/harness/ingest-harness.js";
import type { SoakScenario } from "./main.js";

/** Issue 7, item 5: test/reliability/fuzz.test.ts's property, 100,000 cases (FUZZ_RUNS). */
export const scenario: SoakScenario = {
  name: "fuzz",
  describe: "random, invalid and hostile topics and payloads through PointMirror.handle (fast-check)",
  async run({ quick, log }) {
    const runs = Number(process.env.FUZZ_RUNS ?? (quick ? 3000 : 100_000));
    log(`${runs} cases…`);
    const f = await runIngestFuzz({ runs });
    const mb = (b: number) => Math.round((b / MB) * 10) / 10;
    return {
      cases: f.cases,
      "cases/s": f.casesPerSecond,
      "heap before (MB, after GC)": mb(f.heapBefore),
      "heap after (MB, after GC)": mb(f.heapAfter),
      "RSS before (MB)": mb(f.rssBefore),
      "RSS after (MB)": mb(f.rssAfter),
      "internal errors": f.internalErrors,
      "points turned BadDecodingError (last value kept)": f.decodeErrorsOnPoints,
      outcomes: Object.entries(f.outcomes)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(", "),
      "devices (maxDevices 16)": f.devices,
      "unknown topics remembered": f.rememberedUnknown,
    };
  },
};
