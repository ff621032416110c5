import { AttributeIds, DataType, StatusCodes } from "node-opcua";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publish } from "../harness/brokers.js";
import { startGateway } from "../harness/gateway.js";
import { connectClient, nodeOf, type TestClient } from "../harness/opcua-client.js";

const ETU = "11/5/3WA/Feeder 01/ETU";

describe("a Write from an anonymous session (an Observer)", () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: TestClient;
  beforeAll(async () => {
    gw = await startGateway();
    await publish(gw.brokerUrl, [{ topic: ETU, payload: "230.1" }]);
    client = await connectClient(gw.endpointUrl);
  });
  afterAll(async () => {
    await client?.stop();
    await gw?.stop();
  });

  it("of a read-only point is answered BadUserAccessDenied (its user may not write), not BadNotWritable", async () => {
    const status = await client.session.write({
      nodeId: nodeOf(ETU),
      attributeId: AttributeIds.Value,
      value: { value: { dataType: DataType.Double, value: 1 } },
    });
    expect(status.name).toBe(StatusCodes.BadUserAccessDenied.name);
  });
});
