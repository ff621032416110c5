import { defaultServerCapabilities } from "node-opcua";

/**
 * Makes ServerCapabilities/MinSupportedSampleRate report the rate the server revises to
 * (OPC UA Part 5 6.3.2: the minimum supported sample rate, 0 included; Part 4 5.12.1.2: 0 means
 * exception-based).
 *
 * node-opcua 2.182 revises a requested samplingInterval of 0 on a variable whose
 * MinimumSamplingInterval is 0 to the server's minSupportedSampleRate, and coalesces the changes of
 * that window into one value; at 0 it delivers every change. The Server object, though, reports
 * the configured rate raised to at least defaultServerCapabilities.minSupportedSampleRate (100), so
 * a client read 100 while it was revised 50, and would read 100 while revised 0. Without that floor
 * it reports the configured rate itself.
 */
export function advertiseMinSupportedSampleRate(): void {
  defaultServerCapabilities.minSupportedSampleRate = 0;
}
