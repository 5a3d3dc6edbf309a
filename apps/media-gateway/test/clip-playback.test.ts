/**
 * `play` and `hangup` with a clip, between a real gateway and a raw Twilio-shaped
 * client that echoes marks only when the test says so (Twilio echoes a mark
 * once the audio before it has played).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { CLIP_NAMES } from '@voice/media-link';
import type { GatewayRecord } from '@voice/media-link';
import { BYTES_PER_MS } from '@voice/protocols';
import type { TwilioOutboundMessage } from '@voice/protocols';
import { DEFAULTS } from '../src/config.js';
import { HANGUP_MARK_PREFIX } from '../src/links/deliver-to-caller.js';
import type { GatewayHarness } from './helpers/harness.js';
import { useGatewayHarness } from './helpers/harness.js';
import { audioOf, clipFile, marksOf, mediaOf, shippedClip } from './helpers/heard.js';
import { agentAudio } from './helpers/test-bridge.js';
import type { ReceivedRecord, ToCallerRecord } from './helpers/test-bridge.js';
import { audioFrame } from './helpers/twilio-stream-client.js';
import type { TwilioStreamClient } from './helpers/twilio-stream-client.js';
import { sleep, waitFor } from './helpers/wait-for.js';

type StopRecord = ReceivedRecord<'stop'>;

const stopsOf = (records: GatewayRecord[]) => records.filter((r): r is StopRecord => r.t === 'stop');

describe('media gateway: clips', () => {
  const gw = useGatewayHarness();
  let h: GatewayHarness;

  /** The bridge sends a record to the call's caller. */
  const writeOut = (callSid: string, record: ToCallerRecord) => h.bridge.send(callSid, record);

  async function waitForStop(callSid: string): Promise<StopRecord> {
    const records = await h.waitForInbound(callSid, (r) => stopsOf(r).length > 0);
    return stopsOf(records)[0]!;
  }

  /** The client received `bytes` of audio and then `marks` marks. */
  async function received(client: TwilioStreamClient, bytes: number, marks = 0): Promise<TwilioOutboundMessage[]> {
    return waitFor(`${bytes} bytes of audio and ${marks} marks`, () =>
      audioOf(client.received).length >= bytes && marksOf(client.received).length >= marks
        ? client.received
        : undefined,
    );
  }

  describe('with the shipped clips', () => {
    let hold: Buffer;
    let fallback: Buffer;

    before(async () => {
      hold = await shippedClip('hold');
      fallback = await shippedClip('fallback');
    });
    beforeEach(async () => {
      h = await gw.start();
    });

    it('plays a clip byte for byte, counts it in tx, and does not take it for the first model audio', async () => {
      const call = await h.answeredCall();
      const client = await h.startedStream(call);
      writeOut(call.callSid, { t: 'play', clip: 'hold' });
      const messages = await received(client, hold.length);
      expect(audioOf(messages).equals(hold), 'audio sent equals hold.ulaw').to.equal(true);
      const chunks = mediaOf(messages);
      expect(chunks).to.have.length(Math.ceil(hold.length / (DEFAULTS.clipChunkMs * BYTES_PER_MS)));
      expect(chunks.every((m) => m.streamSid === client.ids.streamSid)).to.equal(true);

      const played = await h.waitForEvent(call.callSid, 'clip.played');
      expect(played.fields).to.include({ clip: 'hold', audio_ms: String(hold.length / BYTES_PER_MS) });

      // The model's first audio, after the clip, is what first_greeting_audio_ms times.
      const modelSentAt = Date.now();
      writeOut(call.callSid, agentAudio(audioFrame(9), { greeting: true }));
      await received(client, hold.length + 160);
      const greeting = await h.waitForEvent(call.callSid, 'greeting.first_audio');
      expect(greeting.ts).to.be.at.least(played.ts);

      client.stop();
      const stop = await waitForStop(call.callSid);
      expect(stop).to.include({ reason: 'twilio_stop', tx: chunks.length + 1, txBytes: hold.length + 160 });
      // First audio is the model's, sent after the clip: the clip did not pass for the greeting.
      expect(stop.firstAudioAt).to.be.at.least(modelSentAt);
      expect((await h.timelineEvents(call.callSid)).filter((e) => e === 'greeting.first_audio')).to.have.length(1);
      expect(await h.metric('gateway_tx_messages_total', { event: 'media' })).to.equal(chunks.length + 1);
      expect(await h.metric('gateway_clips_played_total', { clip: 'hold' })).to.equal(1);
    });

    it('reports no first audio for a call that heard only a clip, yet counts the clip in tx', async () => {
      const call = await h.answeredCall();
      const client = await h.startedStream(call);
      writeOut(call.callSid, { t: 'play', clip: 'fallback' });
      await received(client, fallback.length);
      client.stop();
      const stop = await waitForStop(call.callSid);
      expect(stop.tx).to.be.greaterThan(0);
      expect(stop.txBytes).to.equal(fallback.length);
      expect(stop.firstAudioAt).to.equal(undefined);
      expect(await h.timelineEvents(call.callSid)).not.to.include('greeting.first_audio');
    });

    it('queues a clip behind the audio already sent, in stream order', async () => {
      const call = await h.answeredCall();
      const client = await h.startedStream(call);
      const before = audioFrame(1);
      const after = audioFrame(2);
      writeOut(call.callSid, agentAudio(before, { greeting: true }));
      writeOut(call.callSid, { t: 'play', clip: 'hold' });
      writeOut(call.callSid, agentAudio(after));
      const messages = await received(client, hold.length + 320);
      const expected = Buffer.concat([Buffer.from(before, 'base64'), hold, Buffer.from(after, 'base64')]);
      expect(audioOf(messages).equals(expected)).to.equal(true);
    });

    it('on hangup with a clip, plays it, sends a mark, and closes only when Twilio echoes the mark', async () => {
      const call = await h.answeredCall();
      const client = await h.startedStream(call);
      client.media(audioFrame(1));
      writeOut(call.callSid, { t: 'hangup', reason: 'model_unreachable', clip: 'fallback' });
      // Anything the bridge writes after its hangup is not delivered.
      writeOut(call.callSid, agentAudio(audioFrame(3)));
      const messages = await received(client, fallback.length, 1);
      const markName = marksOf(messages)[0]!;
      expect(markName.startsWith(HANGUP_MARK_PREFIX)).to.equal(true);
      expect(messages[messages.length - 1]).to.deep.equal({
        event: 'mark',
        streamSid: client.ids.streamSid,
        mark: { name: markName },
      });
      expect(audioOf(messages).equals(fallback), 'the clip, then nothing else').to.equal(true);

      // Twilio is still playing the clip: the socket stays open (the TwiML fallback must wait),
      // and caller audio still reaches the bridge meanwhile.
      client.media(audioFrame(2));
      await h.waitForInbound(call.callSid, (r) => r.some((x) => x.t === 'media' && x.payload === audioFrame(2)));
      expect(client.isOpen).to.equal(true);
      expect(stopsOf(h.inbound(call.callSid))).to.have.length(0);

      const echoedAt = Date.now();
      client.mark(markName);
      const { code } = await client.closed;
      expect(code).to.equal(1000);
      expect(Date.now() - echoedAt).to.be.below(1000);

      const stop = await waitForStop(call.callSid);
      expect(stop).to.include({
        reason: 'hangup:model_unreachable',
        rx: 2,
        tx: mediaOf(messages).length,
        txBytes: fallback.length,
      });
      const inbound = h.inbound(call.callSid);
      // The gateway's own mark is not the bridge's business.
      expect(inbound.filter((r) => r.t === 'mark')).to.have.length(0);
      expect(stopsOf(inbound)).to.have.length(1);
      const events = await h.timelineEvents(call.callSid);
      expect(events).to.include('clip.played');
      expect(events).not.to.include('greeting.first_audio');
      expect(await h.metric('gateway_tx_messages_total', { event: 'mark' })).to.equal(1);
    });

    it('still forwards the bridge marks Twilio echoes while the hangup clip plays', async () => {
      const call = await h.answeredCall();
      const client = await h.startedStream(call);
      writeOut(call.callSid, agentAudio(audioFrame(5), { greeting: true }));
      writeOut(call.callSid, { t: 'mark', name: 'item_1|20' });
      writeOut(call.callSid, { t: 'hangup', reason: 'bye', clip: 'fallback' });
      const messages = await received(client, 160 + fallback.length, 2);
      expect(marksOf(messages)[0]).to.equal('item_1|20');
      client.mark('item_1|20');
      await h.waitForInbound(call.callSid, (r) => r.some((x) => x.t === 'mark' && x.name === 'item_1|20'));
      expect(client.isOpen).to.equal(true);
      client.mark(marksOf(messages)[1]!);
      expect((await client.closed).code).to.equal(1000);
    });
  });

  describe('with short clips and a short grace', () => {
    const CLIP_MS = 300;
    const GRACE_MS = 200;
    let dir: string;

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gateway-clips-'));
      for (const name of CLIP_NAMES) {
        await writeFile(clipFile(dir, name), Buffer.alloc(CLIP_MS * BYTES_PER_MS, 0x10));
      }
      h = await gw.start({ CLIPS_DIR: dir, HANGUP_CLIP_GRACE_MS: String(GRACE_MS) });
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('closes anyway when the mark is never echoed, once the clip should have played', async () => {
      const call = await h.answeredCall();
      const client = await h.startedStream(call);
      const sentAt = Date.now();
      writeOut(call.callSid, { t: 'hangup', reason: 'model_unreachable', clip: 'fallback' });
      const { code } = await client.closed;
      const waited = Date.now() - sentAt;
      expect(code).to.equal(1000);
      expect(waited).to.be.within(CLIP_MS + GRACE_MS - 50, CLIP_MS + GRACE_MS + 1000);
      expect(audioOf(client.received)).to.have.length(CLIP_MS * BYTES_PER_MS);
      expect((await waitForStop(call.callSid)).reason).to.equal('hangup:model_unreachable');
    });

    it('waits for model audio still queued ahead of the clip before giving up on the mark', async () => {
      const call = await h.answeredCall();
      const client = await h.startedStream(call);
      const queuedMs = 1000;
      const frame = audioFrame(7);
      const sentAt = Date.now();
      for (let i = 0; i < queuedMs / 20; i++) {
        writeOut(call.callSid, agentAudio(frame, { greeting: i === 0 }));
      }
      writeOut(call.callSid, { t: 'hangup', reason: 'done', clip: 'hold' });
      await client.closed;
      expect(Date.now() - sentAt).to.be.at.least(queuedMs + CLIP_MS + GRACE_MS - 100);
    });

    it('ends once, with twilio_stop, when the caller hangs up while the hangup clip plays', async () => {
      const call = await h.answeredCall();
      const client = await h.startedStream(call);
      writeOut(call.callSid, { t: 'hangup', reason: 'model_unreachable', clip: 'hold' });
      await received(client, CLIP_MS * BYTES_PER_MS, 1);
      client.stop();
      await client.closed;
      expect((await waitForStop(call.callSid)).reason).to.equal('twilio_stop');
      // Past the clip's deadline: the call is not ended a second time.
      await sleep(CLIP_MS + GRACE_MS + 200);
      expect(stopsOf(h.inbound(call.callSid))).to.have.length(1);
    });

    it('hangs up at once without a clip, as before', async () => {
      const call = await h.answeredCall();
      const client = await h.startedStream(call);
      const sentAt = Date.now();
      writeOut(call.callSid, { t: 'hangup', reason: 'transfer_done' });
      expect((await client.closed).code).to.equal(1000);
      expect(Date.now() - sentAt).to.be.below(CLIP_MS);
      expect(client.received).to.have.length(0);
    });
  });
});
