import { FLOOD_MAX_DEVICES, runIngestFlood } from "../../test/harness/ingest-flood.js";
import { MB } from "../../test/harness/ingest-harness.js";
import type { SoakScenario } from "./main.js";

/** Issue 7, item 6: test/reliability/flood.test.ts's flood, 1,000,000 names and ids (FLOOD_NAMES). */
export const scenario: SoakScenario = {
  name: "flood",
  describe: "distinct device names, then unknown topic ids, through PointMirror.handle in chunks of 1,000",
  async run({ quick, log }) {
    const names = Number(process.env.FLOOD_NAMES ?? (quick ? 100_000 : 1_000_000));
    log(`${names} names, then ${names} unknown ids…`);
    const f = await runIngestFlood({ names });
    const mb = (b: number) => Math.round((b / MB) * 10) / 10;
    return {
      "messages per flood": f.names,
      [`devices (maxDevices ${FLOOD_MAX_DEVICES})`]: f.devices,
      "deviceLimit counted": f.deviceLimit,
      "unknown topics counted": f.unknownTopics,
      "unknown topics remembered": f.rememberedUnknown,
      "RSS before / at cap / after (MB)": `${mb(f.rssBefore)} / ${mb(f.rssAtCap)} / ${mb(f.rssAfter)}`,
      "heap before / at cap / after (MB, after GC)": `${mb(f.heapBefore)} / ${mb(f.heapAtCap)} / ${mb(f.heapAfter)}`,
      "names: msg/s": f.deviceNames.messagesPerSecond,
      "names: lag p50 / p99 / max (ms)": `${f.deviceNames.lagP50} / ${f.deviceNames.lagP99} / ${f.deviceNames.lagMax}`,
      "unknown ids: msg/s": f.unknownIds.messagesPerSecond,
      "unknown ids: lag p50 / p99 / max (ms)": `${f.unknownIds.lagP50} / ${f.unknownIds.lagP99} / ${f.unknownIds.lagMax}`,
    };
  },
};
