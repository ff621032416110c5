import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests start real brokers and OPC UA servers; node-opcua loads the standard
    // nodeset (~1 s) per server, so give them room but keep every hang bounded.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default", "./test/harness/summary-reporter.ts"],
  },
});
