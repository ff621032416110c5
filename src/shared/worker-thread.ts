import { Worker } from "node:worker_threads";

/**
 * A worker thread running `name` (without extension) beside `base` (the caller's import.meta.url).
 * Built, the thread is the .js beside it. From the sources (tsx, vitest) it is the .ts, and a
 * worker does not inherit the parent's TypeScript loader: it registers tsx itself first.
 */
export function newWorker(base: string, name: string, workerData: unknown): Worker {
  if (!base.endsWith(".ts")) return new Worker(new URL(`./${name}.js`, base), { workerData });
  const tsx = import.meta.resolve("tsx/esm/api");
  const entry = new URL(`./${name}.ts`, base).href;
  const boot = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData });
}
