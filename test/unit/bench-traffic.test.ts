/**
 * The bench's own accounting (scripts/bench): stamps survive the trip inside
 * near-silent audio, and lost, duplicated, reordered and misdelivered frames
 * are counted the way the table says they are.
 */
import { expect } from 'chai';
import { FRAME_BYTES, MULAW_SILENCE, mulawRms } from '@voice/protocols';
import { AUDIBLE_RMS_THRESHOLD, VAD_RMS_AT_FULL_THRESHOLD, type OutgoingFrame } from '@voice/testkit';
import { STAMP_BYTES, StampCodec } from '../../scripts/bench/stamp.js';
import { TrafficRecorder } from '../../scripts/bench/traffic.js';

const DEFAULT_VAD_THRESHOLD = 0.5;
const DELTA_BYTES = 800;

function frame(chunk: number, sentAt: number): OutgoingFrame {
  return {
    callSid: 'CA1',
    streamSid: 'MZ1',
    chunk,
    timestampMs: chunk * 20,
    payload: Buffer.alloc(FRAME_BYTES, MULAW_SILENCE),
    sentAt,
  };
}

describe('bench stamps and traffic accounting', function () {
  const epoch = performance.now();

  it('reads back every stamp written, at any offset, and rejects a corrupted one', function () {
    const codec = new StampCodec(epoch);
    const audio = Buffer.alloc(DELTA_BYTES, MULAW_SILENCE);
    codec.write(audio, 'model', { stream: 4095, seq: 7, sentAt: epoch + 12.345 });
    codec.write(audio, 'model', { stream: 3, seq: 8, sentAt: epoch + 99.5 }, 400);
    const found = codec.findAll(audio, 'model');
    expect(found.map((s) => [s.stream, s.seq])).to.deep.equal([
      [4095, 7],
      [3, 8],
    ]);
    expect(found[0]!.sentAt - epoch).to.be.closeTo(12.345, 0.001);
    expect(codec.findAll(audio, 'caller')).to.deep.equal([]);
    audio[410] = 0x00;
    expect(codec.findAll(audio, 'model')).to.have.length(1);
  });

  it('finds no second stamp inside a stamp whose own digits spell the magic', function () {
    const codec = new StampCodec(epoch);
    // Caller magic is a,5,c,3: stream 0x3a5 then seq 0xc3000 spell it inside the data, and the
    // silence after the stamp (0xFF, nibble f) completes a false stamp whose 4-bit checksum happens
    // to pass. One such stamp in a 300k-frame run read as cross-talk and 312 reordered frames.
    const audio = Buffer.alloc(FRAME_BYTES, MULAW_SILENCE);
    codec.write(audio, 'caller', { stream: 0x3a5, seq: 0xc3000, sentAt: epoch });
    expect(codec.findAll(audio, 'caller').map((s) => [s.stream, s.seq])).to.deep.equal([[0x3a5, 0xc3000]]);
  });

  it('keeps a stamped silent frame far below the VAD and "audible" thresholds', function () {
    const audio = Buffer.alloc(FRAME_BYTES, MULAW_SILENCE);
    new StampCodec(epoch).write(audio, 'caller', { stream: 0xfff, seq: 0xfffff, sentAt: epoch + 4000 });
    expect(STAMP_BYTES).to.be.below(FRAME_BYTES / 4);
    expect(mulawRms(audio)).to.be.below(AUDIBLE_RMS_THRESHOLD / 4);
    expect(mulawRms(audio)).to.be.below((VAD_RMS_AT_FULL_THRESHOLD * DEFAULT_VAD_THRESHOLD) / 4);
  });

  it('counts lost, duplicated and reordered caller frames, and times only frames sent once the pipe was open', function () {
    const recorder = new TrafficRecorder(new StampCodec(epoch));
    recorder.addCall(0);
    const t0 = epoch + 1000;
    const payloads = [1, 2, 3, 4, 5, 6].map((chunk) => recorder.stampFrame(0, frame(chunk, t0 + chunk * 20)));
    // 1-2 waited for the model session (open at t0+100); 4 overtakes 3; 3 comes twice; 5 never comes.
    recorder.onAppend('sess_a', payloads[0]!, t0 + 100);
    recorder.onAppend('sess_a', payloads[1]!, t0 + 100);
    recorder.onAppend('sess_a', payloads[3]!, t0 + 150);
    recorder.onAppend('sess_a', payloads[2]!, t0 + 160);
    recorder.onAppend('sess_a', payloads[2]!, t0 + 161);
    recorder.onAppend('sess_a', payloads[5]!, t0 + 170);
    const result = recorder.result();
    expect(result.callerToModel).to.include({ frames: 6, lost: 1, duplicated: 1, reordered: 1, crossTalk: 0 });
    // Only frame 6 was sent after the pipe opened (t0+120 >= t0+100): one sample of 50 ms.
    const latency = result.callerToModelLatency.percentiles([50]);
    expect(latency.count).to.equal(1);
    expect(latency.ms[50]).to.be.closeTo(50, 0.1);
  });

  it('counts model deltas lost before the hangup, and audio delivered to the wrong call', function () {
    const recorder = new TrafficRecorder(new StampCodec(epoch));
    recorder.addCall(0);
    recorder.addCall(1);
    const start = performance.now();
    recorder.setStartSentAt(0, start);
    recorder.setStartSentAt(1, start);
    // Tie model session A to call 0 and session B to call 1 through their caller frames.
    recorder.onAppend('sess_a', recorder.stampFrame(0, frame(1, start)), start + 1);
    recorder.onAppend('sess_b', recorder.stampFrame(1, frame(1, start)), start + 1);
    const deltasA = [0, 1, 2].map(() => recorder.onDelta('sess_a', Buffer.alloc(DELTA_BYTES, MULAW_SILENCE)));
    const deltaB = recorder.onDelta('sess_b', Buffer.alloc(DELTA_BYTES, MULAW_SILENCE));
    const at = performance.now();
    recorder.onCallerMedia(0, deltasA[0]!, at);
    recorder.onCallerMedia(0, deltasA[2]!, at);
    recorder.onCallerMedia(0, deltaB, at);
    // Both calls hang up well after the deltas were sent.
    recorder.stampFrame(0, frame(2, at + 5000));
    recorder.stampFrame(1, frame(2, at + 5000));
    const result = recorder.result();
    expect(result.modelToCaller).to.include({ frames: 4, lost: 2, crossTalk: 1, duplicated: 0, reordered: 0 });
    expect(result.greetingMs[0]).to.be.at.least(0);
    expect(result.greetingMs[1]).to.equal(undefined);
    expect(result.modelToCallerLatency.count).to.equal(3);
  });
});
