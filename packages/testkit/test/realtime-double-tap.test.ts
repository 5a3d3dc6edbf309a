/**
 * The Realtime double's tap, as the bench uses it: every appended frame is
 * shown with its arrival time, every output delta can be replaced (stamped)
 * before it is sent, and with recordFrames off the per-frame traffic is not
 * kept while the rest of the session still is.
 */
import { expect } from 'chai';
import { FRAME_BYTES, MULAW_SILENCE } from '@voice/protocols';
import { RealtimeDouble, connectRealtimeTestClient } from '../src/realtime-double/index.js';
import type { RealtimeTestClient } from '../src/realtime-double/index.js';
import { waitFor } from '../src/wait-for.js';

const API_KEY = 'sk-test-realtime-double';
const GREETING = 'Hello there.';
const STAMP = 0xf5;
const PCMU_NO_VAD_SESSION = {
  type: 'realtime',
  output_modalities: ['audio'],
  audio: {
    input: { format: { type: 'audio/pcmu' }, turn_detection: null },
    output: { format: { type: 'audio/pcmu' }, voice: 'alloy' },
  },
};

describe('RealtimeDouble tap (load tests)', function () {
  let double: RealtimeDouble;
  let client: RealtimeTestClient | undefined;
  const appends: Array<{ sessionId: string; audio: Buffer; at: number }> = [];

  beforeEach(async function () {
    appends.length = 0;
    double = new RealtimeDouble({
      apiKey: API_KEY,
      behaviour: { greetingText: GREETING, realtimeFactor: 50 },
      recordFrames: false,
      tap: {
        onAppend: (sessionId, audio, at) => appends.push({ sessionId, audio, at }),
        onDelta: (_sessionId, audio) => {
          const stamped = Buffer.from(audio);
          stamped[0] = STAMP;
          return stamped;
        },
      },
    });
    await double.start();
  });

  afterEach(async function () {
    await client?.close();
    client = undefined;
    await double.stop();
  });

  it('shows each append with its arrival time and sends the deltas the tap returns, recording neither', async function () {
    client = connectRealtimeTestClient(double, { apiKey: API_KEY });
    await client.waitForEvent('session.created');
    client.send({ type: 'session.update', session: PCMU_NO_VAD_SESSION });
    await client.waitForEvent('session.updated');

    const frames = [0, 1, 2].map((i) => Buffer.alloc(FRAME_BYTES, MULAW_SILENCE - i));
    const sentAt = performance.now();
    for (const frame of frames) client.send({ type: 'input_audio_buffer.append', audio: frame.toString('base64') });
    await waitFor(() => appends.length === frames.length, { message: 'three appends seen by the tap' });
    const session = double.sessions[0]!;
    expect(appends.map((a) => a.sessionId)).to.deep.equal([session.id, session.id, session.id]);
    appends.forEach((a, i) => expect(a.audio.equals(frames[i]!)).to.equal(true));
    expect(appends[0]!.at).to.be.within(sentAt, performance.now());

    client.send({ type: 'response.create' });
    await client.waitForEvent('response.done', { timeoutMs: 10_000 });
    const deltas = client
      .eventsOfType('response.output_audio.delta')
      .map((e) => Buffer.from(String(e.delta), 'base64'));
    expect(deltas.length).to.be.above(0);
    for (const delta of deltas) expect(delta[0]).to.equal(STAMP);

    expect(session.inputAudio().length).to.equal(0);
    expect(session.receivedEventTypes()).to.not.include('input_audio_buffer.append');
    expect(session.sentEventTypes()).to.not.include('response.output_audio.delta');
    expect(session.sentEventTypes()).to.include('response.done');
    expect(session.responses[0]!.status).to.equal('completed');
  });
});
