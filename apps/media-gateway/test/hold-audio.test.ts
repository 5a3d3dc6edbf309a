/**
 * `hold` records between a real gateway and a raw Twilio-shaped client: the
 * gateway repeats the hold clip while the caller waits, and stops (cutting the
 * clip with a clear) when the model speaks, the bridge says so, or a hangup
 * clip must play. The scheduling itself is unit-tested (unit/hold-loop.test.ts).
 */
import { expect } from 'chai';
import { BYTES_PER_MS } from '@voice/protocols';
import type { TwilioOutboundMessage } from '@voice/protocols';
import type { GatewayHarness } from './helpers/harness.js';
import { useGatewayHarness } from './helpers/harness.js';
import { audioOf, shippedClip } from './helpers/heard.js';
import { agentAudio } from './helpers/test-bridge.js';
import type { ToCallerRecord } from './helpers/test-bridge.js';
import { audioFrame } from './helpers/twilio-stream-client.js';
import type { TwilioStreamClient } from './helpers/twilio-stream-client.js';
import { sleep, waitFor } from './helpers/wait-for.js';

const GAP_MS = 200;

describe('media gateway: hold audio while the caller waits', function () {
  this.timeout(30_000);
  const gw = useGatewayHarness();
  let h: GatewayHarness;
  let hold: Buffer;
  let fallback: Buffer;

  const writeOut = (callSid: string, record: ToCallerRecord) => h.bridge.send(callSid, record);
  const clearsOf = (messages: TwilioOutboundMessage[]) => messages.filter((m) => m.event === 'clear').length;
  const audioBytes = (client: TwilioStreamClient) => audioOf(client.received).length;

  before(async () => {
    hold = await shippedClip('hold');
    fallback = await shippedClip('fallback');
  });
  beforeEach(async () => {
    h = await gw.start({ HOLD_AUDIO_GAP_MS: String(GAP_MS) });
  });

  it('repeats the clip once each play has ended, then stops with a clear when the model speaks', async () => {
    const call = await h.answeredCall();
    const client = await h.startedStream(call);
    const holdStartedAt = Date.now();
    writeOut(call.callSid, { t: 'hold', on: true });
    writeOut(call.callSid, { t: 'hold', on: true }); // already holding: no second clip on top
    await waitFor('the first play', () => audioBytes(client) >= hold.length || undefined);
    await sleep(300);
    expect(audioBytes(client), 'one play queued at a time').to.equal(hold.length);
    await waitFor('the second play', () => audioBytes(client) >= 2 * hold.length || undefined, { timeoutMs: 10_000 });
    // Not before the first had played out (timers never fire early).
    expect(Date.now() - holdStartedAt).to.be.at.least(hold.length / BYTES_PER_MS);
    expect(audioOf(client.received).equals(Buffer.concat([hold, hold]))).to.equal(true);

    const greeting = audioFrame(7);
    writeOut(call.callSid, agentAudio(greeting, { greeting: true }));
    await waitFor('the greeting', () => audioBytes(client) >= 2 * hold.length + 160 || undefined);
    const afterClear = client.received.slice(client.received.findIndex((m) => m.event === 'clear') + 1);
    expect(clearsOf(client.received), 'the clip still playing was cut').to.equal(1);
    expect(audioOf(afterClear).equals(Buffer.from(greeting, 'base64')), 'the greeting right after the clear').to.equal(
      true,
    );
    await sleep(hold.length / BYTES_PER_MS + GAP_MS + 500);
    expect(audioBytes(client), 'no hold clip after the model spoke').to.equal(2 * hold.length + 160);
    expect(await h.metric('gateway_clips_played_total', { clip: 'hold' })).to.equal(2);
  });

  it('stops on `hold` off, and a hangup clip is not queued behind a hold clip', async () => {
    const call = await h.answeredCall();
    const client = await h.startedStream(call);
    writeOut(call.callSid, { t: 'hold', on: true });
    await waitFor('the first play', () => audioBytes(client) >= hold.length || undefined);
    writeOut(call.callSid, { t: 'hold', on: false });
    await waitFor('a clear', () => clearsOf(client.received) === 1 || undefined);
    await sleep(hold.length / BYTES_PER_MS + GAP_MS + 300);
    expect(audioBytes(client), 'no second play').to.equal(hold.length);

    writeOut(call.callSid, { t: 'hold', on: true });
    await waitFor('hold again', () => audioBytes(client) >= 2 * hold.length || undefined);
    writeOut(call.callSid, { t: 'hangup', reason: 'OPENAI_CONNECT_DEADLINE', clip: 'fallback' });
    await waitFor('the fallback', () => audioBytes(client) >= 2 * hold.length + fallback.length || undefined);
    expect(clearsOf(client.received)).to.equal(2);
    const afterClear = client.received.slice(client.received.map((m) => m.event).lastIndexOf('clear') + 1);
    expect(audioOf(afterClear).equals(fallback), 'the fallback clip starts at once').to.equal(true);
  });
});
