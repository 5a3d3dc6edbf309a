import { expect } from 'chai';
import { PlaybackTracker, markName, parseMarkName } from '../../src/call/playback-tracker.js';

const MARGIN_MS = 60;

describe('bridge: playback tracker (what the caller heard)', () => {
  let now = 0;
  const clock = () => now;

  beforeEach(() => {
    now = 1000;
  });

  it('sends a start-of-item mark before the first audio and an end mark after each delta', () => {
    const t = new PlaybackTracker(MARGIN_MS, clock);
    expect(t.onAudioSent('item_a', 800)).to.deep.equal([markName('item_a', 0), markName('item_a', 100)]);
    expect(t.onAudioSent('item_a', 800)).to.deep.equal([markName('item_a', 200)]);
  });

  it('counts nothing as heard before Twilio echoes a mark of the item', () => {
    const t = new PlaybackTracker(MARGIN_MS, clock);
    t.onAudioSent('item_a', 8000); // 1000 ms queued at Twilio
    now += 500;
    const decision = t.bargeIn()!;
    expect(decision.playedMs).to.equal(0);
    expect(decision.audioEndMs).to.equal(MARGIN_MS);
  });

  it('interpolates from the last echo at real time, capped at what was sent', () => {
    const t = new PlaybackTracker(MARGIN_MS, clock);
    t.onAudioSent('item_a', 8000);
    t.onMarkEchoed(markName('item_a', 0));
    now += 430;
    const decision = t.bargeIn()!;
    expect(decision.playedMs).to.equal(430);
    expect(decision.audioEndMs).to.equal(430 + MARGIN_MS);
    expect(decision.sentMs).to.equal(1000);
  });

  it('truncates at most at what was sent, and only once per item', () => {
    const t = new PlaybackTracker(MARGIN_MS, clock);
    t.onAudioSent('item_a', 8000);
    t.onMarkEchoed(markName('item_a', 0));
    now += 980;
    expect(t.bargeIn()!.audioEndMs).to.equal(1000);
    expect(t.bargeIn()).to.equal(undefined);
    expect(t.isTruncated('item_a')).to.equal(true);
  });

  it('does nothing when the caller already heard everything', () => {
    const t = new PlaybackTracker(MARGIN_MS, clock);
    t.onAudioSent('item_a', 800);
    t.onMarkEchoed(markName('item_a', 100));
    expect(t.isSpeaking()).to.equal(false);
    expect(t.bargeIn()).to.equal(undefined);
  });

  it('ignores echoes of a truncated item: after a clear they mean "not played"', () => {
    const t = new PlaybackTracker(MARGIN_MS, clock);
    t.onAudioSent('item_a', 8000);
    t.onMarkEchoed(markName('item_a', 0));
    now += 200;
    t.bargeIn();
    t.onMarkEchoed(markName('item_a', 1000));
    expect(t.totalSentMs()).to.equal(1000);
  });

  it('round-trips mark names with item ids that contain separators', () => {
    expect(parseMarkName(markName('item|x', 340))).to.deep.equal({ itemId: 'item|x', positionMs: 340 });
    expect(parseMarkName('gateway-hangup:fallback')).to.equal(undefined);
  });
});
