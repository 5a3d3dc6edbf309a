import { expect } from 'chai';
import { connect } from 'node:net';
import { waitFor } from '@voice/testkit';
import { MediaLinkAuthError, type BridgeRecord, type GatewayRecord } from '../src/index.js';
import { frozenPeer, startLinkPair, type LinkPair } from './helpers.js';

const CALL = `CA${'cd'.repeat(16)}`;
const frame = (n: number) => Buffer.alloc(160, n % 256).toString('base64');

describe('media link: one authenticated connection per gateway/bridge pair', function () {
  this.timeout(20_000);
  let pair: LinkPair;
  afterEach(async () => {
    await pair?.stop();
  });

  it('carries several calls both ways, each in order, byte for byte', async () => {
    pair = await startLinkPair();
    const [gateway, bridge] = await Promise.all([pair.dial(), pair.nextLink()]);
    expect(bridge.peer).to.equal('gateway-test');
    expect(gateway.peer).to.equal('bridge-test');
    const atBridge: GatewayRecord[] = [];
    const atGateway: BridgeRecord[] = [];
    bridge.onRecord = (r) => atBridge.push(r);
    gateway.onRecord = (r) => atGateway.push(r);

    const FRAMES = 500;
    for (let i = 0; i < FRAMES; i++) {
      gateway.send({ t: 'media', ch: 1, payload: frame(i) });
      gateway.send({ t: 'media', ch: 2, payload: frame(i + 1) });
      bridge.send({ t: 'media', ch: 1, payload: frame(i), at: i, greeting: false, markAfter: `item|${i}` });
    }
    gateway.send({
      t: 'stop',
      call: CALL,
      reason: 'twilio_stop',
      rx: FRAMES,
      tx: 0,
      txBytes: 0,
      endedAt: 1,
      invalidMessages: 0,
    });
    await waitFor(() => atBridge.length === 2 * FRAMES + 1 && atGateway.length === FRAMES, {
      message: 'all records across',
    });

    const payloads = (ch: number) => atBridge.flatMap((r) => (r.t === 'media' && r.ch === ch ? [r.payload] : []));
    expect(payloads(1)).to.deep.equal(Array.from({ length: FRAMES }, (_, i) => frame(i)));
    expect(payloads(2)).to.deep.equal(Array.from({ length: FRAMES }, (_, i) => frame(i + 1)));
    expect(atBridge[atBridge.length - 1]!.t, 'stop after the audio it follows').to.equal('stop');
    expect(atGateway.map((r) => (r.t === 'media' ? r.markAfter : ''))).to.deep.equal(
      Array.from({ length: FRAMES }, (_, i) => `item|${i}`),
    );
    await waitFor(() => gateway.stats.rttMs !== undefined && bridge.stats.rttMs !== undefined, {
      message: 'pings answered both ways',
    });
  });

  it('on a busy link, frames of the same millisecond share one write; an idle link writes at once', async () => {
    // No pings during the test: every write counted is a frames' write.
    pair = await startLinkPair({ coalesceMs: 5, pingIntervalMs: 60_000, deadAfterMs: 120_000 });
    const [gateway, bridge] = await Promise.all([pair.dial(), pair.nextLink()]);
    const atBridge: GatewayRecord[] = [];
    bridge.onRecord = (r) => atBridge.push(r);
    // Idle: the first record goes out on this turn of the event loop, not after the window.
    const writesBefore = gateway.stats.writes;
    gateway.send({ t: 'media', ch: 1, payload: frame(0) });
    await new Promise((resolve) => setImmediate(resolve));
    expect(gateway.stats.writes - writesBefore, 'written on the same turn').to.equal(1);

    // Busy: one frame per event-loop turn, as frames of many calls arrive; at most one write per window.
    const FRAMES = 200;
    const started = performance.now();
    for (let i = 1; i <= FRAMES; i++) {
      gateway.send({ t: 'media', ch: 1, payload: frame(i) });
      await new Promise((resolve) => setImmediate(resolve));
    }
    const elapsedMs = performance.now() - started;
    await waitFor(() => atBridge.length === FRAMES + 1, { message: 'every frame across' });
    const writes = gateway.stats.writes - writesBefore - 1;
    expect(writes, `${writes} writes for ${FRAMES} frames over ${elapsedMs.toFixed(1)} ms`).to.be.at.most(
      Math.ceil(elapsedMs / 5) + 2,
    );
    expect(writes).to.be.lessThan(FRAMES / 2);
    expect(atBridge.map((r) => (r.t === 'media' ? r.payload : ''))).to.deep.equal(
      Array.from({ length: FRAMES + 1 }, (_, i) => frame(i)),
    );
  });

  it('refuses a peer with the wrong secret (and counts it): no link is made', async () => {
    pair = await startLinkPair();
    const error = await pair.dial({ secret: 'not-the-secret-at-all' }).catch((err: unknown) => err);
    expect(error).to.be.instanceOf(MediaLinkAuthError);
    expect((error as MediaLinkAuthError).reason).to.equal('denied');
    expect((error as Error).message).to.match(/MEDIA_LINK_SECRET/);
    await waitFor(() => pair.refused.length === 1, { message: 'refusal counted' });
    expect(pair.refused).to.deep.equal(['bad_secret']);
  });

  it('refuses a peer that never authenticates, and one that sends garbage', async () => {
    pair = await startLinkPair();
    const silent = connect({ host: '127.0.0.1', port: pair.server.port });
    const garbage = connect({ host: '127.0.0.1', port: pair.server.port });
    garbage.write('GET / HTTP/1.1\r\n\r\n');
    const closed = (s: typeof silent) => new Promise<void>((resolve) => s.on('close', () => resolve()));
    // Read (and discard) what the listener says, so its close is seen.
    silent.resume();
    garbage.resume();
    silent.on('error', () => undefined);
    garbage.on('error', () => undefined);
    await Promise.all([closed(silent), closed(garbage)]);
    expect([...pair.refused].sort()).to.deep.equal(['malformed', 'timeout']);
  });

  it('notices a peer that stops answering within about a second', async () => {
    pair = await startLinkPair({ pingIntervalMs: 100, deadAfterMs: 400 });
    // The peer's process freezes after the handshake (SIGSTOP, a hung event loop): no pongs, no data.
    const [peer, bridge] = await Promise.all([frozenPeer(pair.server.port), pair.nextLink()]);
    const started = Date.now();
    expect(await bridge.closed).to.equal('peer_silent');
    expect(Date.now() - started).to.be.lessThan(2000);
    peer.destroy();
  });

  it('never grows memory without bound toward a peer that stopped reading: audio is dropped and counted, then the link is cut', async () => {
    pair = await startLinkPair({ maxQueuedAudioBytes: 64 * 1024, maxQueuedBytes: 256 * 1024, deadAfterMs: 60_000 });
    const [peer, gateway] = await Promise.all([frozenPeer(pair.server.port), pair.nextLink()]);
    let maxQueued = 0;
    // ~40 s of audio for 10 calls, as fast as it can be sent.
    for (let i = 0; i < 20_000 && gateway.isOpen; i++) {
      gateway.send({ t: 'media', ch: i % 10, payload: frame(i), at: i, greeting: false });
      if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
      maxQueued = Math.max(maxQueued, gateway.queuedBytes);
    }
    expect(gateway.stats.audioDropped, 'audio dropped, not queued').to.be.greaterThan(1000);
    expect(maxQueued, 'queue stays bounded').to.be.lessThan(256 * 1024 + 1024);
    // Control records still go (they are not dropped) until the hard cap, which cuts the link.
    for (let i = 0; i < 5000 && gateway.isOpen; i++) gateway.send({ t: 'hangup', ch: i % 10, reason: 'x'.repeat(100) });
    expect(await gateway.closed).to.equal('stalled');
    peer.destroy();
  });
});
