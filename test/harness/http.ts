/** A GET (or `init`) on the gateway's HTTP server: status, content type and body text. */
export async function get(url: string, init?: RequestInit) {
  const res = await fetch(url, init);
  return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
}

/** The value of one sample line of the exposition text (`name{labels}` exactly), or undefined. */
export async function sample(httpUrl: string, series: string): Promise<number | undefined> {
  const { text } = await get(`${httpUrl}/metrics`);
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
