/**
 * Thousands of random and malformed messages over real media sockets to a
 * running stack: random bytes, random text, truncated JSON, Twilio messages
 * with wrong types or missing fields, media before START, bad base64, wrong
 * streamSids, unknown events, oversize frames and floods, on sockets that
 * started a real call and on sockets that never did. Afterwards the gateway
 * must still serve, a normal call must still be greeted, and nothing of the
 * fuzzed calls may be left behind but their timelines.
 *
 * Seeded: the message sequence of every socket reproduces with FUZZ_SEED=<seed>
 * (the interleaving across sockets is up to the scheduler).
 */
import { randomInt } from 'node:crypto';
import { expect } from 'chai';
import WebSocket from 'ws';
import type { Knex } from 'knex';
import { createCallRepository, prepareTestDatabase, uniqueCallSid } from '@voice/db';
import { STREAM_PARAMETERS, TWILIO_MEDIA_SUBPROTOCOL } from '@voice/protocols';
import { TWILIO_SIGNATURE_HEADER, parseTwiml, signStreamUpgrade, signWebhook, waitFor } from '@voice/testkit';
import { DEFAULTS as GATEWAY_DEFAULTS, MEDIA_PATH } from '../../apps/media-gateway/src/config.js';
import { INVALID_KINDS } from '../../apps/media-gateway/src/metrics.js';
import { startStack, type Stack } from '../support/stack.js';
import { metricValue, scrape } from '../support/metrics.js';
import { createTestBusiness } from '../support/business.js';
import { PUBLIC_BASE_URL, PUBLIC_STREAM_URL, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from '../support/env.js';
import { assertionRedis, callKeysPresent } from '../support/redis.js';
import type { RedisClient } from '@voice/redis';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : randomInt(2 ** 31);
const MESSAGES_PER_SOCKET = 400;
/** Bursts stay under the flood guard (200 per second) so most messages reach the parser; the flood socket does not. */
const BURST_SIZE = 90;
const BURST_GAP_MS = 500;
const FLOOD_MESSAGES = 3000;
const OVERSIZE_BYTES = GATEWAY_DEFAULTS.maxMessageBytes + 1024;
const FRAME_BYTES = 160;
const HEARD_GREETING_MS = 300;
const SETTLE_TIMEOUT_MS = 10_000;
const START_WATCHDOG_MS = 30_000;
const WARM_SESSION_TTL_MS = 3000;

/**
 * started: a real call (webhook, valid START), then fuzz. known: a real call's socket that never
 * sends a valid START (a failed call). anonymous: no CallSid anywhere. `End` says how it finishes.
 */
type Role = 'started' | 'known' | 'anonymous';
type End = 'stop' | 'close' | 'terminate' | 'oversize' | 'flood' | 'forged_start' | 'bad_sid_start';
const PLAN: ReadonlyArray<[Role, End]> = [
  ['started', 'stop'],
  ['started', 'close'],
  ['started', 'terminate'],
  ['started', 'stop'],
  ['started', 'oversize'],
  ['started', 'flood'],
  ['known', 'close'],
  ['known', 'terminate'],
  ['anonymous', 'close'],
  ['anonymous', 'forged_start'],
  ['anonymous', 'bad_sid_start'],
  ['anonymous', 'oversize'],
];

describe('e2e: fuzzing the media socket', function () {
  this.timeout(45_000);
  let knex: Knex;
  let redis: RedisClient;
  let stack: Stack;

  before(async () => {
    ({ knex } = await prepareTestDatabase());
    redis = assertionRedis();
    stack = await startStack({
      // Unstarted sockets must outlive the fuzzing to end the way the plan says (the watchdog has its own tests).
      gatewayEnv: { START_WARN_MS: String(START_WATCHDOG_MS / 2), START_TIMEOUT_MS: String(START_WATCHDOG_MS) },
      // Warm sessions stay on (real races between the warm and the START claim); a call that never
      // starts keeps its warm session this long, so the no-leak check can wait for it.
      bridgeEnv: { WARM_SESSION_TTL_MS: String(WARM_SESSION_TTL_MS) },
    });
  });
  after(async () => {
    await stack.stop();
    await knex.destroy();
    await redis.quit();
  });

  it('drops and counts every bad message, leaks nothing, and still greets the next caller', async () => {
    console.log(`      fuzz seed ${SEED} (rerun with FUZZ_SEED=${SEED})`);
    const business = await createTestBusiness(knex);
    const gatewayPort = stack.gateways[0]!.port;
    const before = await scrape(gatewayPort);

    const sockets = await Promise.all(
      PLAN.map(async ([role, end], i) => {
        const call = role === 'anonymous' ? undefined : await answerCall(stack, business.phoneNumber);
        return FuzzSocket.open(gatewayPort, role, end, new Rng(seedFor(SEED, i)), call);
      }),
    );
    await Promise.all(sockets.map((s) => s.run()));
    const sent = sockets.reduce((n, s) => n + s.sent, 0);
    console.log(`      ${sent} messages over ${sockets.length} sockets`);
    expect(sent).to.be.greaterThan(5000);

    // The gateway closed the sockets it had to, with the right codes.
    for (const s of sockets) {
      if (s.end === 'oversize') expect(s.closeCode, `${s.role}/oversize`).to.equal(1009);
      if (s.end === 'forged_start' || s.end === 'bad_sid_start') expect(s.closeCode, s.end).to.equal(1008);
    }

    // Still serving: health, and a normal call gets its greeting.
    expect((await fetch(`http://127.0.0.1:${gatewayPort}/healthz`)).status).to.equal(200);
    const next = stack.call(business.phoneNumber, { script: [{ silenceMs: 10_000 }] });
    await waitFor(() => next.heardAudibleMs() >= HEARD_GREETING_MS, {
      timeoutMs: SETTLE_TIMEOUT_MS,
      message: 'the next caller greeted',
    });
    const summary = await next.hangup();
    expect(summary.firstAudioAtMs).to.be.a('number');

    // Nothing leaked: model sessions, sockets, per-call keys (timelines and conversation records stay, expiring), unfinished call rows.
    await waitFor(() => stack.realtime.openSessionCount === 0, {
      timeoutMs: SETTLE_TIMEOUT_MS,
      message: 'model sessions closed',
    });
    const calls = createCallRepository(knex);
    const fuzzedCallSids = sockets.flatMap((s) => s.callSids);
    for (const callSid of fuzzedCallSids) {
      const kept = [`call:{${callSid}}:timeline`, `call:{${callSid}}:conversation`];
      const onlyTimeline = async () => (await callKeysPresent(redis, callSid)).every((k) => kept.includes(k));
      await waitFor(onlyTimeline, { timeoutMs: SETTLE_TIMEOUT_MS, message: `per-call keys of ${callSid} cleaned up` });
    }
    for (const s of sockets.filter((x) => x.role !== 'anonymous')) {
      const callSid = s.callSids[0]!;
      await waitFor(async () => ['completed', 'failed'].includes((await calls.findByCallSid(callSid))?.status ?? ''), {
        timeoutMs: SETTLE_TIMEOUT_MS,
        message: `the calls row of the ${s.role}/${s.end} socket finalized`,
      });
      if (s.role === 'known') expect((await calls.findByCallSid(callSid))?.endReason).to.equal('no_start');
    }

    const after = await scrape(gatewayPort);
    const delta = (name: string, labels: Record<string, string> = {}) =>
      metricValue(after, name, labels) - metricValue(before, name, labels);
    for (const kind of INVALID_KINDS.filter((k) => k !== 'protocol_error' && k !== 'start_backlog')) {
      expect(delta('gateway_invalid_messages_total', { kind }), `invalid messages of kind ${kind}`).to.be.greaterThan(
        0,
      );
    }
    expect(delta('gateway_streams_started_total')).to.equal(PLAN.filter(([role]) => role === 'started').length + 1);
    expect(delta('gateway_streams_rejected_total')).to.equal(2);
    expect(metricValue(after, 'gateway_open_sockets')).to.equal(0);
  });
});

interface AnsweredCall {
  callSid: string;
  /** The public stream URL from the TwiML (what the upgrade signature covers). */
  streamUrl: string;
  parameters: Record<string, string>;
}

/** Twilio's side of the voice webhook, done by hand: the stream URL and parameters come from the TwiML. */
async function answerCall(stack: Stack, to: string): Promise<AnsweredCall> {
  const callSid = uniqueCallSid();
  const params = {
    CallSid: callSid,
    AccountSid: TEST_ACCOUNT_SID,
    From: '+15551230000',
    To: to,
    Direction: 'inbound',
    CallStatus: 'ringing',
  };
  const res = await fetch(`http://127.0.0.1:${stack.webhook.port}/twilio/voice`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      [TWILIO_SIGNATURE_HEADER]: signWebhook(TEST_AUTH_TOKEN, `${PUBLIC_BASE_URL}/twilio/voice`, params),
    },
    body: new URLSearchParams(params).toString(),
  });
  expect(res.status).to.equal(200);
  const connect = parseTwiml(await res.text()).find((v) => v.verb === 'Connect');
  const stream = connect?.verb === 'Connect' ? connect.stream : undefined;
  if (!stream) throw new Error('the webhook answered no <Connect><Stream>');
  return { callSid, streamUrl: stream.url, parameters: stream.parameters };
}

class FuzzSocket {
  sent = 0;
  closeCode: number | undefined;
  /** Calls this socket touched: its own, and any CallSid it forged a START for. */
  readonly callSids: string[] = [];
  private sequence = 0;
  private chunk = 0;
  private readonly streamSid: string;
  private readonly closed: Promise<void>;

  private constructor(
    private readonly ws: WebSocket,
    readonly role: Role,
    readonly end: End,
    private readonly rng: Rng,
    private readonly call: AnsweredCall | undefined,
  ) {
    this.streamSid = `MZ${rng.hex(32)}`;
    if (call) this.callSids.push(call.callSid);
    this.closed = new Promise((resolve) =>
      ws.once('close', (code) => {
        this.closeCode = code;
        resolve();
      }),
    );
  }

  static async open(port: number, role: Role, end: End, rng: Rng, call: AnsweredCall | undefined): Promise<FuzzSocket> {
    const publicUrl = call?.streamUrl ?? PUBLIC_STREAM_URL;
    const ws = new WebSocket(`ws://127.0.0.1:${port}${new URL(publicUrl).pathname}`, [TWILIO_MEDIA_SUBPROTOCOL], {
      headers: { [TWILIO_SIGNATURE_HEADER]: signStreamUpgrade(TEST_AUTH_TOKEN, publicUrl) },
    });
    ws.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`upgrade to ${MEDIA_PATH} refused: ${res.statusCode}`)),
      );
    });
    return new FuzzSocket(ws, role, end, rng, call);
  }

  async run(): Promise<void> {
    if (this.role === 'started') {
      this.json({ event: 'connected', protocol: 'Call', version: '1.0.0' });
      this.json(this.startMessage(this.call!.callSid, this.call!.parameters));
    }
    for (let i = 0; i < MESSAGES_PER_SOCKET && this.isOpen; i++) {
      this.sendOne();
      if ((i + 1) % BURST_SIZE === 0) await sleep(BURST_GAP_MS);
    }
    await this.finish();
  }

  private get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  private async finish(): Promise<void> {
    switch (this.end) {
      case 'stop':
        this.json({
          event: 'stop',
          sequenceNumber: this.seq(),
          streamSid: this.streamSid,
          stop: { accountSid: TEST_ACCOUNT_SID, callSid: this.call!.callSid },
        });
        this.ws.close(1000);
        break;
      case 'close':
        this.ws.close(1000);
        break;
      case 'terminate':
        this.ws.terminate();
        break;
      case 'oversize':
        this.send(JSON.stringify({ event: 'media', padding: 'x'.repeat(OVERSIZE_BYTES) }));
        break;
      case 'flood':
        for (let i = 0; i < FLOOD_MESSAGES; i++) this.json(this.media(this.rng.bytes(FRAME_BYTES).toString('base64')));
        this.ws.close(1000);
        break;
      case 'forged_start': {
        // A well-formed START for a call nobody answered: refused by the token check.
        const callSid = `CA${this.rng.hex(32)}`;
        this.callSids.push(callSid);
        this.json(this.startMessage(callSid, { [STREAM_PARAMETERS.callToken]: this.rng.hex(32) }));
        break;
      }
      case 'bad_sid_start':
        this.json(this.startMessage(`CA${this.rng.text(8)}`, { [STREAM_PARAMETERS.callToken]: this.rng.hex(32) }));
        break;
    }
    await this.closed;
  }

  /** One message of a random kind. Valid media and marks are in the mix so a started call keeps working. */
  private sendOne(): void {
    const { rng } = this;
    switch (rng.int(17)) {
      case 0:
        return this.send(rng.bytes(1 + rng.int(512)), true);
      case 1:
        return this.send(rng.text(1 + rng.int(300)));
      case 2: {
        const whole = JSON.stringify(this.validMessage());
        return this.send(whole.slice(0, rng.int(whole.length - 1)));
      }
      case 3:
      case 4:
        return this.json(mutate(this.validMessage(true), rng));
      case 5:
        return this.json({
          event: rng.pick(['hello', 'Media', 'MEDIA', 'start ', '', 'closed', 'error']),
          streamSid: this.streamSid,
          sequenceNumber: this.seq(),
        });
      case 6:
        return this.send(
          rng.pick([
            'null',
            '42',
            '"media"',
            '[]',
            '[{"event":"media"}]',
            '{"event":5}',
            '{}',
            'true',
            '{"event":null}',
          ]),
        );
      case 7:
        return this.json(
          this.media(rng.pick(['not base64!', 'AAA', '====', 'A'.repeat(215), '/+/+/+/=x', rng.text(40)])),
        );
      case 8:
        return this.json({
          ...this.media(rng.bytes(FRAME_BYTES).toString('base64')),
          streamSid: rng.pick([`MZ${rng.hex(32)}`, '', this.streamSid.toLowerCase()]),
        });
      case 9:
        return this.send(
          `{"__proto__":{"event":"media"},"constructor":{"prototype":{"x":1}},"event":"${rng.pick(['media', 'mark', 'stop'])}"}`,
        );
      case 10:
        return this.send(`${'['.repeat(2000 + rng.int(3000))}${']'.repeat(rng.int(2))}`);
      case 11:
        return this.json({
          event: 'dtmf',
          sequenceNumber: this.seq(),
          streamSid: this.streamSid,
          dtmf: { track: 'inbound_track', digit: rng.pick(['5', '#', '*', '55', '', rng.text(rng.int(2000))]) },
        });
      case 12:
        return this.json({
          event: 'mark',
          sequenceNumber: this.seq(),
          streamSid: this.streamSid,
          mark: {
            name: rng.pick([rng.text(20), `item_${rng.hex(8)}|${rng.int(5000)}`, '|', 'gateway-hangup:fallback']),
          },
        });
      case 13:
        // A second START on a started socket (a valid one anywhere else would end the socket at the token check).
        if (this.role === 'started') return this.json(this.startMessage(this.call!.callSid, this.call!.parameters));
        return this.json(mutate(this.startMessage(`CA${rng.hex(32)}`, {}), rng));
      default:
        // Valid caller audio (noise): on a started call it reaches the model; before START it is dropped.
        return this.json(this.media(rng.bytes(FRAME_BYTES).toString('base64')));
    }
  }

  /**
   * A well-formed Twilio message. A START only as a duplicate on a started socket (elsewhere a
   * valid START would go to the token check and end the socket); `forMutation` allows any START,
   * since every mutation breaks the schema.
   */
  private validMessage(forMutation = false): Record<string, unknown> {
    const kinds = ['connected', 'media', 'mark', 'dtmf', 'stop-other'];
    if (this.role === 'started' || forMutation) kinds.push('start');
    switch (this.rng.pick(kinds)) {
      case 'connected':
        return { event: 'connected', protocol: 'Call', version: '1.0.0' };
      case 'mark':
        return { event: 'mark', sequenceNumber: this.seq(), streamSid: this.streamSid, mark: { name: 'm' } };
      case 'dtmf':
        return {
          event: 'dtmf',
          sequenceNumber: this.seq(),
          streamSid: this.streamSid,
          dtmf: { track: 'inbound_track', digit: '1' },
        };
      case 'stop-other':
        // A stop for some other stream: a real one would end the call before the fuzzing does.
        return {
          event: 'stop',
          sequenceNumber: this.seq(),
          streamSid: `MZ${this.rng.hex(32)}`,
          stop: { accountSid: TEST_ACCOUNT_SID, callSid: `CA${this.rng.hex(32)}` },
        };
      case 'start':
        return this.startMessage(this.call?.callSid ?? `CA${this.rng.hex(32)}`, this.call?.parameters ?? {});
      default:
        return this.media(this.rng.bytes(FRAME_BYTES).toString('base64'));
    }
  }

  private startMessage(callSid: string, customParameters: Record<string, string>): Record<string, unknown> {
    return {
      event: 'start',
      sequenceNumber: this.seq(),
      streamSid: this.streamSid,
      start: {
        accountSid: TEST_ACCOUNT_SID,
        streamSid: this.streamSid,
        callSid,
        tracks: ['inbound'],
        customParameters,
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    };
  }

  private media(payload: string): Record<string, unknown> {
    this.chunk++;
    return {
      event: 'media',
      sequenceNumber: this.seq(),
      streamSid: this.streamSid,
      media: { track: 'inbound', chunk: String(this.chunk), timestamp: String(this.chunk * 20), payload },
    };
  }

  private seq(): string {
    return String(++this.sequence);
  }

  private json(message: unknown): void {
    this.send(JSON.stringify(message));
  }

  private send(data: string | Buffer, binary = false): void {
    if (!this.isOpen) return;
    this.ws.send(data, { binary });
    this.sent++;
  }
}

/** Breaks a Twilio message's schema: one field gets a value of the wrong type, or (outside START) goes missing. */
function mutate(message: Record<string, unknown>, rng: Rng): Record<string, unknown> {
  const copy = structuredClone(message);
  const paths = leafPaths(copy).filter((p) => p[0] !== 'event');
  const path = rng.pick(paths);
  const parent = path
    .slice(0, -1)
    .reduce<Record<string, unknown>>((node, key) => node[key] as Record<string, unknown>, copy);
  const key = path[path.length - 1]!;
  const original = parent[key];
  if (copy.event !== 'start' && rng.int(3) === 0) {
    delete parent[key];
    return copy;
  }
  const wrong: unknown[] = [42, null, true, [], { nested: 'x' }, -1.5e308].filter((v) => typeof v !== typeof original);
  parent[key] = rng.pick(wrong);
  return copy;
}

/** Paths to every leaf, and to every record whose entries are optional (customParameters). */
function leafPaths(node: Record<string, unknown>, prefix: string[] = []): string[][] {
  const out: string[][] = [];
  for (const [key, value] of Object.entries(node)) {
    const path = [...prefix, key];
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      out.push(...leafPaths(value as Record<string, unknown>, path));
      if (key === 'customParameters' || key === 'start' || key === 'media' || key === 'stop') out.push(path);
    } else {
      out.push(path);
    }
  }
  return out;
}

/** mulberry32: small, fast and good enough to drive a fuzzer reproducibly. */
class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  hex(chars: number): string {
    return this.bytes(Math.ceil(chars / 2))
      .toString('hex')
      .slice(0, chars);
  }

  /** Any UTF-16 code units, lone surrogates and control characters included. */
  text(n: number): string {
    let out = '';
    for (let i = 0; i < n; i++) out += String.fromCharCode(this.int(4) === 0 ? this.int(0x10000) : 32 + this.int(95));
    return out;
  }
}

function seedFor(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, index + 1) ^ (seed >>> 7)) >>> 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
