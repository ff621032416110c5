import { configureLogging, silenceLogging } from "../../src/shared/logger.js";

/**
 * vitest's setupFiles: run before each test file, also where a worker runs several files in one
 * module graph (`isolate: false`, vitest.config.ts). Logging is the process's state: each file
 * starts with the logging a fresh test process has (default levels, silent unless
 * GATEWAY_TEST_LOGS), whatever the file before it configured.
 */
configureLogging({ level: "info", format: "auto" });
silenceLogging(!process.env.GATEWAY_TEST_LOGS);
