/**
 * Node flags the gateway runs with: `npm start`, the Docker image (NODE_OPTIONS) and the bench.
 *
 * Every value the gateway mirrors lives until the point's next value, a publishing interval or
 * more, so V8's default young generation (16 MiB semi-spaces) collects while most of it is still
 * alive and copies it. With 128 MiB, most values are replaced before a collection. Bench at 65,000
 * msg/s, 11,050 monitored items: default 0.90 core and 80 % of the notifications delivered; 64 MiB
 * 0.76–0.86 core, 93–99 %; 128 MiB 0.69 core, 100 %, p99 173 ms. The price is resident memory under
 * load: peak RSS 364 MB with 64 MiB, 475 MB with 128 MiB in that run (README, Performance).
 */
export const RUNTIME_FLAGS = ["--max-semi-space-size=128"] as const;

/**
 * The flags this process was started without, on its command line or in NODE_OPTIONS. A flag
 * given with another value counts as given: a site may trade throughput for memory on purpose.
 */
export function missingRuntimeFlags(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions = process.env.NODE_OPTIONS ?? "",
): string[] {
  const nameOf = (flag: string) => flag.split("=")[0];
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].map(nameOf));
  return RUNTIME_FLAGS.filter((flag) => !given.has(nameOf(flag)));
}
