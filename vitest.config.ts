import { configDefaults, defineConfig } from "vitest/config";

/**
 * Files that bound a latency or a memory growth under load, or load the CPU on purpose (README,
 * Development: Working on it): they run one at a time after the rest, so that another file's CPU is
 * not what they measure and their load is not what another file's timing meets.
 */
const SERIAL = [
  // 50 attacking connections for 10 s each: the gateway's RSS and a legitimate client's latency.
  "test/reliability/hostile-opcua.test.ts",
  // A flooded slow client: heap growth per second and another client's p99 latency.
  "test/reliability/hostile-clients.test.ts",
  // 100,000 devices and ids: the mirror's lag bounds.
  "test/reliability/flood.test.ts",
  // A cut link noticed within 200 ms, a stall within 1.5 × keep-alive.
  "test/reliability/network-faults.test.ts",
  // The ingest thread racing the main thread at a publisher's full rate: whether it gets ahead.
  "test/integration/ingest-thread.test.ts",
  // A dead route noticed within one keep-alive (< 2 s + 150 ms): the watchdog's own bounds.
  "test/integration/keepalive-watchdog.test.ts",
  "test/integration/redundancy.test.ts",
  // kill -9 of a member under a device's flow; the other member must miss nothing.
  "test/reliability/failover.test.ts",
  // mosquitto 2.0.11 re-sends QoS 2 PUBLISHes beyond 20 in flight after its restart (README,
  // Reliability): a gateway slowed by other files has more in flight at the SIGTERM.
  "test/reliability/broker-restart.test.ts",
];

/**
 * Files that start gateway and CLI processes (each more than a core while it starts) and bound no
 * latency tighter than seconds: two at a time after the parallel group, never beside the three
 * files at a time nor beside a SERIAL file.
 */
const PAIRS = [
  // kill -9 of a store and gateways writing under load: what is lost is bounded by the flush interval.
  "test/reliability/history-kill.test.ts",
  // kill -9 of gateway processes between PUBREC and PUBREL.
  "test/reliability/gateway-restart.test.ts",
  // Fifteen CLI processes one after another.
  "test/unit/cli.test.ts",
  // Gateway processes sent SIGHUP and SIGTERM during and after their start.
  "test/integration/config-reload.test.ts",
];

export default defineConfig({
  test: {
    // Integration tests start real brokers and OPC UA servers; node-opcua loads the standard
    // nodeset (~1 s) per server, so give them room but keep every hang bounded.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // A worker runs file after file in one module graph: node-opcua and the
    // sources are loaded once per worker, not once per file (~2 s of CPU each, 90 files). What a
    // file leaves in the process's state, each file's setup resets (test/harness/file-setup.ts).
    isolate: false,
    setupFiles: ["test/harness/file-setup.ts"],
    // The sources compiled once for the processes the tests start (gateway, CLI, simulator).
    globalSetup: ["test/harness/global-setup.ts"],
    reporters: ["default", "./test/harness/summary-reporter.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "parallel",
          include: ["test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...SERIAL, ...PAIRS],
          // Many files wait (reconnect backoffs, keep-alives, retries), not compute: four at a time
          // keep two cores busy. vitest's default is cores - 1, one file at a time on 2 cores.
          maxWorkers: 4,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "pairs",
          include: PAIRS,
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: "serial",
          include: SERIAL,
          maxWorkers: 1,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
