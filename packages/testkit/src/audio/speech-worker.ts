/**
 * espeak-ng on a worker thread: `espeakWav(args, text)` resolves with the WAV
 * file espeak-ng wrote, while the calling thread goes on. One worker per
 * process, started on the first render; it keeps the process alive only while
 * a render is pending. The worker is plain JavaScript evaluated from a string,
 * so it runs the same from the TypeScript sources (tests) and from a build.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/** Runs in the worker: each request renders in its own espeak-ng instance (its own in-memory file system). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const espeakNg = import(workerData.espeakUrl).then((m) => m.default);
parentPort.on('message', async ({ id, args }) => {
  try {
    const ESpeakNg = await espeakNg;
    const espeak = await ESpeakNg({ arguments: args, print: () => undefined, printErr: () => undefined });
    parentPort.postMessage({ id, wav: espeak.FS.readFile(workerData.outputFile) });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.stack) || err) });
  }
});
`;
const OUTPUT_FILE = 'speech.wav';

type Reply = { id: number; wav: Uint8Array; error?: undefined } | { id: number; error: string };

interface Pending {
  resolve(wav: Uint8Array): void;
  reject(err: Error): void;
}

let worker: Worker | undefined;
let nextId = 0;
const pending = new Map<number, Pending>();

/** The WAV bytes espeak-ng renders for `text` with `args` (voice, speed). */
export function espeakWav(args: readonly string[], text: string): Promise<Uint8Array> {
  const w = worker ?? startWorker();
  const id = nextId++;
  const result = new Promise<Uint8Array>((resolve, reject) => pending.set(id, { resolve, reject }));
  if (pending.size === 1) w.ref();
  w.postMessage({ id, args: [...args, '-w', OUTPUT_FILE, text] });
  return result;
}

function startWorker(): Worker {
  const w = new Worker(WORKER_SOURCE, {
    eval: true,
    // Only espeak-ng runs there: not the TypeScript loader or profilers the test process was started with.
    execArgv: [],
    workerData: { espeakUrl: espeakModuleUrl(), outputFile: OUTPUT_FILE },
  });
  w.unref();
  w.on('message', (reply: Reply) => {
    const request = pending.get(reply.id);
    if (!request) return;
    pending.delete(reply.id);
    if (pending.size === 0) w.unref();
    if (reply.error !== undefined) request.reject(new Error(`espeak-ng failed: ${reply.error}`));
    else request.resolve(reply.wav);
  });
  const fail = (err: Error) => {
    if (worker !== w) return; // 'exit' after 'error': already handled
    // The next render starts a new worker; whatever was waiting on this one fails now, not never.
    worker = undefined;
    for (const request of pending.values()) request.reject(err);
    pending.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`espeak-ng worker exited (${code})`)));
  worker = w;
  return w;
}

/** Where espeak-ng is installed, as the worker must import it (an evaluated worker has no module of its own to resolve from). */
function espeakModuleUrl(): string {
  // createRequire, not import.meta.resolve: the tests load this file through a CommonJS transform.
  return pathToFileURL(createRequire(import.meta.url).resolve('espeak-ng')).href;
}
