import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PROJECT_ROOT } from "../../src/shared/paths.js";
import { startMosquitto } from "../harness/brokers.js";
import { useCleanups } from "../harness/cleanups.js";
import { startGateway } from "../harness/gateway.js";
import { connectClient, type TestClient } from "../harness/opcua-client.js";
import { startSimulator } from "../harness/simulator.js";
import { needs } from "../harness/tools.js";
import { waitFor } from "../harness/wait.js";

// The README's shard example (deploy/shards/): two gateways with the example's own filters against
// one mosquitto, fed by the two simulated lineups of its compose file.
const SHARDS = ["shard-a", "shard-b"] as const;
const subscriptionsOf = (shard: string) =>
  (
    parse(readFileSync(join(PROJECT_ROOT, "deploy", "shards", `${shard}.yaml`), "utf8")) as {
      mqtt: { subscriptions: unknown[] };
    }
  ).mqtt.subscriptions;

/** Every device object below Objects/SmartGear/Devices, as `<type>/<name>/<source>`. */
async function devicesOf(client: TestClient): Promise<string[]> {
  const found: string[] = [];
  for (const type of await client.browseNames("ns=2;s=Devices"))
    for (const name of await client.browseNames(`ns=2;s=Devices/${type}`))
      for (const source of await client.browseNames(`ns=2;s=Devices/${type}/${name}`))
        found.push(`${type}/${name}/${source}`);
  return found.sort();
}

const lineup = (from: number) =>
  [0, 1, 2, 3].flatMap((i) => {
    const n = String(from + i).padStart(2, "0");
    return [`3WA/Feeder ${n}/ETU`, `50/Group ${n}/PM`];
  });

describe("two shards split a site by topic filter", needs("mosquitto"), () => {
  const { track } = useCleanups();

  it("shows every device of both lineups on exactly one shard: none lost, none twice", async () => {
    const broker = track(await startMosquitto());
    const clients: TestClient[] = [];
    for (const shard of SHARDS) {
      const gw = track(
        await startGateway(
          `mqtt: { url: ${JSON.stringify(broker.url)}, clientId: ${shard}-1, subscriptions: ${JSON.stringify(subscriptionsOf(shard))} }\n` +
            "history: { enabled: false }\n",
        ),
      );
      clients.push(track(await connectClient(gw.endpointUrl)));
    }
    // The compose file's two lineups: Feeder/Group 01–04 and 05–08.
    for (const [name, first] of [
      ["Lineup A", "1"],
      ["Lineup B", "5"],
    ] as const)
      track(
        startSimulator([
          "--url",
          broker.url,
          "--devices",
          "4",
          "--rate",
          "1000",
          "--lineup",
          name,
          "--first-device",
          first,
        ]),
      );

    const expected = [...lineup(1), ...lineup(5)].sort();
    await waitFor(
      "every simulated device on a shard",
      async () => {
        const seen = (await Promise.all(clients.map(devicesOf))).flat();
        return expected.every((d) => seen.includes(d));
      },
      30_000,
      250,
    );
    // Each lineup publishes every one of its ~1,700 topics within 2 s at 1,000 msg/s: after
    // three more seconds, a topic of a device mirrored elsewhere would have shown it here too.
    await new Promise((r) => setTimeout(r, 3000));
    const [a, b] = await Promise.all(clients.map(devicesOf));
    expect(a).toEqual(lineup(1).sort());
    expect(b).toEqual(lineup(5).sort());
  }, 120_000);
});
