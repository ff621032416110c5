import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../harness/brokers.js";
import { useCleanups } from "../harness/cleanups.js";
import { startGatewayProcess } from "../harness/cli.js";
import { discoverEndpoints } from "../harness/uacp.js";

const dir = mkdtempSync(join(tmpdir(), "smartgear-endpoints-it-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** node-opcua's line for a CreateSession whose EndpointUrl names a host the server does not advertise. */
const NO_SUITABLE = "Cannot find suitable endpoints";

/**
 * The server's PKI of both gateways: the first makes its certificate without the machine's
 * loopback address, as a gateway before opcua.advertiseAddresses did.
 */
const pki = join(dir, "pki");

/** A gateway process (its log is what a user reads) on fixed free ports, the broker embedded. */
async function gatewayOn(advertise: string, defer: Parameters<typeof startGatewayProcess>[2]) {
  const port = await freePort();
  const config = join(dir, `gateway-${port}.yaml`);
  writeFileSync(
    config,
    [
      `broker: { port: ${await freePort()} }`,
      `opcua: { port: ${port}, pkiFolder: ${JSON.stringify(pki)}, allowAnonymous: true, securityPolicies: [None]${advertise} }`,
      "http: { enabled: false }",
      `mqtt: { storeFolder: ${JSON.stringify(join(dir, `store-${port}`))} }`,
      `history: { enabled: false }`,
      "log: { format: json }",
      "",
    ].join("\n"),
  );
  const url = `opc.tcp://127.0.0.1:${port}/UA/SmartGear`;
  const { child } = await startGatewayProcess(config, url, defer, 100_000);
  return { port, url, child };
}

describe("a client that connects by IP address (issue 16)", () => {
  const { defer } = useCleanups();

  it("with opcua.advertiseAddresses false, is served the host name's endpoint and node-opcua warns", {
    timeout: 150_000,
  }, async () => {
    const { port, url, child } = await gatewayOn(", advertiseAddresses: false", defer);
    const found = await discoverEndpoints(port, url);
    // The host name's URL, which a client elsewhere may not resolve (a container's, say).
    expect(found.getEndpoints).toHaveLength(1);
    expect(found.getEndpoints[0]).not.toBe(url);
    expect(found.createSession).toEqual(found.getEndpoints);
    expect(child.output()).toContain(NO_SUITABLE);
  });

  it("finds the endpoints at that address in GetEndpoints and CreateSession, without a warning a connection", {
    timeout: 150_000,
  }, async () => {
    const { port, url, child } = await gatewayOn("", defer);
    for (let i = 0; i < 3; i++) {
      const found = await discoverEndpoints(port, url);
      // Part 4 5.4.4: the endpoints of the URL the client used; 5.6.2: ServerEndpoints, which a
      // client compares with what GetEndpoints returned, are those of the same URL.
      expect(found.getEndpoints).toEqual([url]);
      expect(found.createSession).toEqual(found.getEndpoints);
    }
    expect(child.output()).not.toContain(NO_SUITABLE);
    // The certificate made before lacks 127.0.0.1: not a reason for node-opcua's start-up warning
    // that the certificate misses a configured address (the machine's change with the network).
    expect(child.output()).not.toContain("NODE-OPCUA-W26");
  });
});
