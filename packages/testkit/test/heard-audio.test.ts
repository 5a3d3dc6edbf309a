import { expect } from 'chai';
import { BYTES_PER_MS } from '@voice/protocols';
import { assembleTimeline, longestSilence } from '../src/twilio-double/heard-audio.js';

/** Loud mu-law (a square wave: far above the audible threshold) for `ms`. */
const loud = (ms: number) => Buffer.from(Array.from({ length: ms * BYTES_PER_MS }, (_, i) => (i % 2 ? 0x00 : 0x80)));

describe('heard audio: longest silence', () => {
  it('finds the longest gap between heard segments, counting from START and up to a limit', () => {
    const audio = assembleTimeline([
      { startMs: 300, bytes: loud(1000) },
      { startMs: 2000, bytes: loud(500) }, // 700 ms gap before it
      { startMs: 3700, bytes: loud(200) }, // 1200 ms gap before it
    ]);
    expect(longestSilence(audio)).to.deep.equal({ ms: 1200, atMs: 2500 });
    expect(longestSilence(audio, 0, 2500)).to.deep.equal({ ms: 700, atMs: 1300 });
    // From START: the silence before the first audio counts.
    expect(longestSilence(audio, 0, 1000)).to.deep.equal({ ms: 300, atMs: 0 });
    expect(longestSilence(loud(400))).to.deep.equal({ ms: 0, atMs: 0 });
  });
});
