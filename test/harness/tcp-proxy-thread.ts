import { newWorker } from "../../src/shared/worker-thread.js";

/** What startTcpProxyThread offers: TcpProxy's faults, each resolved once the thread has applied it. */
export interface ThreadedTcpProxy {
  port: number;
  url(scheme?: string): string;
  stall(): Promise<void>;
  resume(): Promise<void>;
  cut(): Promise<void>;
  /** Links open now, and accepted since start. */
  state(): Promise<{ links: number; accepted: number }>;
  stop(): Promise<void>;
}

/**
 * startTcpProxy in a worker thread of its own: a proxy on the test's event loop stops forwarding
 * whenever a gateway of the same process builds its address space (seconds), which a client's
 * keep-alive watchdog rightly takes for a dead route. Here the route dies only when the test says.
 */
export async function startTcpProxyThread(targetPort: number): Promise<ThreadedTcpProxy> {
  const worker = newWorker(import.meta.url, "tcp-proxy-thread-worker", targetPort);
  type Answer = { links: number; accepted: number; port?: number };
  const waiting = new Map<number, { resolve(m: Answer): void; reject(e: Error): void }>();
  worker.on("message", (m: Answer & { id: number }) => {
    waiting.get(m.id)?.resolve(m);
    waiting.delete(m.id);
  });
  // A thread that fails (its port, its import) fails what the test awaits, not the run.
  worker.on("error", (err) => {
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  });
  let nextId = 1;
  /** Id 0 is the thread's own first message, its port. */
  const ask = (op: string, id = nextId++) =>
    new Promise<Answer>((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      if (id > 0) worker.postMessage({ id, op });
    });
  const { port } = await ask("start", 0);
  return {
    port: port!,
    url: (scheme = "mqtt") => `${scheme}://127.0.0.1:${port}`,
    stall: async () => void (await ask("stall")),
    resume: async () => void (await ask("resume")),
    cut: async () => void (await ask("cut")),
    state: async () => {
      const { links, accepted } = await ask("state");
      return { links, accepted };
    },
    async stop() {
      await ask("stop");
      await worker.terminate();
    },
  };
}
