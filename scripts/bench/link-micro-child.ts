/**
 * The media link on its own, in a process of its own (so its CPU is its own):
 * N simulated calls, each sending one 20 ms frame per tick in both directions
 * through a real MediaLinkServer and dialer on loopback, for S seconds.
 * With `--no-link` the same frames go through a plain function call instead,
 * so the parent can subtract what the harness itself costs (timers, stamping).
 * Prints one JSON line: CPU seconds, one-way latencies (ms), frames sent/lost.
 */
import { parseArgs } from 'node:util';
import { createLogger } from '@voice/logging';
import { MediaLinkServer, dialMediaLink } from '@voice/media-link';

const FRAME_MS = 20;
const FRAME_BYTES = 160;
const SECRET = 'bench-link-micro-secret-0123456789';
const WARMUP_MS = 1000;

const { values } = parseArgs({
  options: { calls: { type: 'string' }, seconds: { type: 'string' }, 'no-link': { type: 'boolean' } },
});
const calls = Number(values.calls ?? 50);
const seconds = Number(values.seconds ?? 10);
const useLink = !values['no-link'];

/** A frame whose first 8 bytes carry the send time, base64 as Twilio sends it. */
function stampedFrame(at: number): string {
  const buf = Buffer.alloc(FRAME_BYTES, 0xff);
  buf.writeDoubleLE(at, 0);
  return buf.toString('base64');
}
const sentAt = (payload: string) => Buffer.from(payload.slice(0, 12), 'base64').readDoubleLE(0);

async function main(): Promise<void> {
  const logger = createLogger({ service: 'link-micro', instance: 'bench', level: 'error' });
  const latencies: number[] = [];
  let received = 0;
  let measuring = false;
  const onArrive = (payload: string) => {
    received++;
    if (measuring) latencies.push(performance.now() - sentAt(payload));
  };
  let toBridge: (ch: number, payload: string) => void = (_ch, p) => onArrive(p);
  let toGateway: (ch: number, payload: string) => void = (_ch, p) => onArrive(p);
  let server: MediaLinkServer | undefined;
  if (useLink) {
    let bridgeSide: Parameters<ConstructorParameters<typeof MediaLinkServer>[0]['onLink']>[0] | undefined;
    server = new MediaLinkServer({
      instanceId: 'bench-bridge',
      secret: SECRET,
      port: 0,
      host: '127.0.0.1',
      logger,
      onLink: (l) => (bridgeSide = l),
    });
    await server.start();
    const gatewaySide = await dialMediaLink({
      host: '127.0.0.1',
      port: server.port,
      instanceId: 'bench-gateway',
      secret: SECRET,
      logger,
    });
    while (!bridgeSide) await new Promise((r) => setTimeout(r, 5));
    const bridge = bridgeSide;
    bridge.onRecord = (r) => r.t === 'media' && onArrive(r.payload);
    gatewaySide.onRecord = (r) => r.t === 'media' && onArrive(r.payload);
    toBridge = (ch, payload) => gatewaySide.send({ t: 'media', ch, payload });
    toGateway = (ch, payload) =>
      bridge.send({
        t: 'media',
        ch,
        payload,
        at: performance.now(),
        greeting: false,
        markAfter: `item_${ch}|${payload.length}`,
      });
  }
  let sent = 0;
  const timers: NodeJS.Timeout[] = [];
  for (let ch = 1; ch <= calls; ch++) {
    // Each call on its own phase within the 20 ms tick, as real streams are.
    const start = setTimeout(
      () => {
        timers.push(
          setInterval(() => {
            toBridge(ch, stampedFrame(performance.now()));
            toGateway(ch, stampedFrame(performance.now()));
            sent += 2;
          }, FRAME_MS),
        );
      },
      (ch * FRAME_MS) / calls,
    );
    timers.push(start);
  }
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  measuring = true;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - t0) / 1000;
  measuring = false;
  for (const t of timers) clearInterval(t);
  await new Promise((r) => setTimeout(r, 200));
  await server?.stop();
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  process.stdout.write(
    `${JSON.stringify({ calls, seconds: wall, useLink, cpuSeconds: (cpu.user + cpu.system) / 1e6, frames: latencies.length, sent, lost: sent - received, p50: at(50), p99: at(99), p999: at(99.9) })}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`link-micro: ${String(err)}\n`);
  process.exit(1);
});
