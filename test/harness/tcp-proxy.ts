import net from "node:net";

/** What the proxy does to the bytes between its clients and the target. */
export type ProxyMode = "forward" | "stall";

/** A link between a client and the target through the proxy. */
interface Link {
  client: net.Socket;
  upstream: net.Socket;
}

export interface TcpProxy {
  /** Where clients connect: 127.0.0.1:port. */
  port: number;
  url(scheme?: string): string;
  /** Links open now. */
  readonly links: number;
  /** Links accepted since start. */
  readonly accepted: number;
  /** Destroys both sockets of every open link: the peer sees a closed connection. */
  cut(): void;
  /**
   * Half-open: stops forwarding in both directions but keeps every socket open, and holds new
   * connections open without connecting them, as a dead route does (no FIN, no RST).
   */
  stall(): void;
  /** Forwards again; what arrived during a stall is dropped, as a dead route drops it. */
  resume(): void;
  /** Latency added to every chunk, each direction (ms); 0 to remove. */
  delay(ms: number): void;
  /**
   * A hook on each chunk from the target to the client: return false to drop it, as the
   * test needs (e.g. holding back a PUBREL). Called before the delay.
   */
  onDownstream(filter: ((chunk: Buffer) => boolean) | null): void;
  /** A hook on each chunk from a client to the target: what it returns is sent instead (e.g. a rewritten HEL). */
  onUpstream(rewrite: ((chunk: Buffer) => Buffer) | null): void;
  stop(): Promise<void>;
}

/** A TCP proxy on a free loopback port towards 127.0.0.1:targetPort that can cut, stall and delay the link. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const links = new Set<Link>();
  const held = new Set<net.Socket>();
  let mode: ProxyMode = "forward";
  let latency = 0;
  let accepted = 0;
  let downFilter: ((chunk: Buffer) => boolean) | null = null;
  let upRewrite: ((chunk: Buffer) => Buffer) | null = null;

  const pipe = (from: net.Socket, to: net.Socket, downstream: boolean) => {
    from.on("data", (data: Buffer) => {
      if (mode === "stall") return;
      if (downstream && downFilter && !downFilter(data)) return;
      const chunk = !downstream && upRewrite ? upRewrite(data) : data;
      if (latency > 0)
        setTimeout(() => {
          if (!to.destroyed) to.write(chunk);
        }, latency);
      else if (!to.destroyed) to.write(chunk);
    });
  };

  const server = net.createServer((client) => {
    accepted++;
    client.on("error", () => {});
    if (mode === "stall") {
      // A dead route: the SYN is answered (loopback cannot pretend otherwise) but nothing flows.
      held.add(client);
      client.on("close", () => held.delete(client));
      return;
    }
    const upstream = net.connect(targetPort, "127.0.0.1");
    upstream.on("error", () => {});
    const link = { client, upstream };
    links.add(link);
    const close = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", close);
    upstream.on("close", close);
    pipe(client, upstream, false);
    pipe(upstream, client, true);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;

  const cut = () => {
    for (const l of links) {
      l.client.destroy();
      l.upstream.destroy();
    }
    links.clear();
    for (const s of held) s.destroy();
    held.clear();
  };

  return {
    port,
    url: (scheme = "mqtt") => `${scheme}://127.0.0.1:${port}`,
    get links() {
      return links.size;
    },
    get accepted() {
      return accepted;
    },
    cut,
    stall() {
      mode = "stall";
    },
    resume() {
      mode = "forward";
      // Connections accepted during the stall never reached the target: the client's own
      // keep-alive or connect timeout ends them; close them now so that it retries at once.
      for (const s of held) s.destroy();
      held.clear();
    },
    delay(ms) {
      latency = ms;
    },
    onDownstream(filter) {
      downFilter = filter;
    },
    onUpstream(rewrite) {
      upRewrite = rewrite;
    },
    async stop() {
      cut();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
