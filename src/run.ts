/** Placeholder replaced in the next commit by the gateway's composition root. */
export async function runGateway(_configFile: string): Promise<number> {
  throw new Error("the gateway is not built yet");
}
