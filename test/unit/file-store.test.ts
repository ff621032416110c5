import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { IStore } from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { FileStore } from "../../src/mqtt/file-store.js";
import { waitFor } from "../harness/wait.js";

type Packet = Parameters<IStore["put"]>[0];

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const folder = () => {
  const d = mkdtempSync(join(tmpdir(), "smartgear-store-"));
  dirs.push(d);
  return join(d, "client", "incoming");
};
const put = (s: IStore, p: Packet) => new Promise<void>((r, j) => s.put(p, (e) => (e ? j(e) : r())));
const get = (s: IStore, messageId: number) =>
  new Promise<Packet | undefined>((r) => s.get({ messageId }, (e, p) => r(e ? undefined : p)));
const del = (s: IStore, messageId: number) =>
  new Promise<Error | undefined>((r) => s.del({ messageId }, (e) => r(e)));

const publish: Packet = {
  cmd: "publish",
  messageId: 7,
  qos: 2,
  dup: false,
  retain: false,
  topic: "11/5/3WA/Feeder 01/ETU",
  payload: Buffer.from([0x7b, 0x00, 0xff]),
  properties: { correlationData: Buffer.from("abc"), userProperties: { a: "b" } },
};

describe("FileStore: MQTT.js's packet store on disk", () => {
  it("gives back what was put, Buffers included, from a new instance (a restarted process)", async () => {
    const f = folder();
    await put(new FileStore(f), publish);
    const again = new FileStore(f);
    const got = (await get(again, 7)) as typeof publish;
    expect(got).toEqual(publish);
    expect(Buffer.isBuffer(got.payload)).toBe(true);
    expect(again.ids()).toEqual([7]);
  });

  it("deletes, and answers an error for a message id it does not hold", async () => {
    const s = new FileStore(folder());
    await put(s, publish);
    expect(await del(s, 7)).toBeUndefined();
    expect(await get(s, 7)).toBeUndefined();
    expect(await del(s, 7)).toBeInstanceOf(Error);
    expect(s.ids()).toEqual([]);
  });

  it("replaces a packet of the same message id; leaves no temporary file", async () => {
    const f = folder();
    const s = new FileStore(f);
    await put(s, publish);
    await put(s, { ...publish, payload: Buffer.from("second") });
    expect(((await get(s, 7)) as typeof publish).payload.toString()).toBe("second");
    expect(readdirSync(f)).toEqual(["7.json"]);
  });

  it("streams every packet it holds; clear() forgets them all", async () => {
    const f = folder();
    const s = new FileStore(f);
    await put(s, publish);
    await put(s, { ...publish, messageId: 9 });
    const ids: number[] = [];
    for await (const p of s.createStream() as AsyncIterable<Packet>) ids.push(p.messageId!);
    expect(ids).toEqual([7, 9]);
    s.clear();
    expect(existsSync(f)).toBe(false);
    expect(s.ids()).toEqual([]);
    await put(s, publish);
    expect(s.ids()).toEqual([7]);
  });

  it("writes and fsyncs off the event loop: put returns at once, its callback (the PUBREC) comes once the packet is on disk", async () => {
    const f = folder();
    const s = new FileStore(f);
    let returned = false;
    const stored = new Promise<boolean>((resolve) =>
      s.put(publish, () => resolve(returned && new FileStore(f).ids().includes(7))),
    );
    returned = true;
    expect(await stored).toBe(true);
  });

  it("answers only a put begun and ended on the same open connection: the PUBREC of another waits for the broker's resend", async () => {
    const f = folder();
    const s = new FileStore(f);
    let answered = false;
    const answer = () => {
      answered = true;
    };
    s.connectionChanged(false);
    s.put({ ...publish, messageId: 6 }, answer);
    s.connectionChanged(true);
    s.put(publish, answer);
    s.connectionChanged(false);
    s.connectionChanged(true);
    await put(s, { ...publish, messageId: 9 });
    // Written all the same (the resent PUBLISH overwrites it), and still not answered.
    await waitFor("the other puts on disk", () => s.ids().length === 3);
    await new Promise((resolve) => setImmediate(resolve));
    expect(answered).toBe(false);
  });

  it("makes its folder only when a packet is put", async () => {
    const f = folder();
    const s = new FileStore(f);
    expect(await get(s, 1)).toBeUndefined();
    expect(existsSync(f)).toBe(false);
  });
});
