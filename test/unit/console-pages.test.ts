import { describe, expect, it } from "vitest";
import type { ConsoleSession } from "../../src/http/console-auth.js";
import { certificatesPage, devicesPage } from "../../src/http/console-pages.js";

const observer: ConsoleSession = { id: "s", user: "otto", roles: ["Observer"], csrf: "t", lastUsed: 0 };
const hostile = `<script>alert("x")</script>`;

describe("the web console's pages", () => {
  it("escape what a device publishes: names and values come from the broker, not from us", () => {
    const device = {
      nodeId: `ns=2;s=Devices/3WA/${hostile}/ETU`,
      path: ["3WA", hostile, "ETU"] as [string, string, string],
      online: true,
    };
    const html = devicesPage(
      observer,
      { devices: [device], total: 1 },
      {
        device,
        points: [
          {
            nodeId: `ns=2;s=11/5/3WA/${hostile}/ETU`,
            path: "Voltage",
            value: hostile,
            unit: "V",
            status: "Good",
            sourceTimestamp: "",
          },
        ],
      },
    );
    expect(html).not.toContain("<script>alert");
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
  });

  it("offer Trust and Reject only to an Engineer, each form with the session's CSRF token", () => {
    const entry = {
      list: "rejected" as const,
      file: "/x.pem",
      thumbprint: "ab".repeat(20),
      subject: "CN=client",
      applicationUri: "urn:x",
      validFrom: "",
      validTo: "",
    };
    const lists = { applications: [entry], users: [] };
    expect(certificatesPage(observer, lists)).not.toContain('class="trust"');
    const engineer = certificatesPage({ ...observer, roles: ["Engineer"], csrf: "tok" }, lists);
    expect(engineer).toContain('<button class="trust">Trust</button>');
    expect(engineer).toContain('<input type="hidden" name="csrf" value="tok">');
  });
});
