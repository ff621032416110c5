/**
 * `run`'s configuration check (checkSetup: YAML parsing, schema compiling, the catalog built) on a
 * thread of its own, while the main thread loads node-opcua: ~0.5 s of a cold start on 2 cores
 * that no longer comes before the gateway's. Started by setupInThread (app/setup.ts).
 */
import { parentPort, workerData } from "node:worker_threads";
import { checkSetup } from "./setup.js";

const { file } = workerData as { file: string };
parentPort!.postMessage(checkSetup(file));
