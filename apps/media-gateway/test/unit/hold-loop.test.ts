/**
 * The hold loop's scheduling, on a fake clock and a fake earpiece that plays
 * what is sent in order at real time (as Twilio does): how much silence a
 * waiting caller hears between plays, whatever the clip's length, and that it
 * stops (cutting the clip) the moment the model speaks.
 */
import { expect } from 'chai';
import { DEFAULTS } from '../../src/config.js';
import { HoldLoop, type HoldPlayer, type HoldTimers } from '../../src/session/hold-loop.js';

/** The most silence a waiting caller may hear (issue 8, "never silent while waiting"). */
const MAX_SILENCE_MS = 1500;

class FakeClock implements HoldTimers {
  private t = 0;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private nextId = 1;

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((timer) => timer.id !== handle);
  }
  /** Moves time on, running each timer at its own time. */
  advance(ms: number): void {
    const until = this.t + ms;
    for (;;) {
      const due = this.timers.filter((timer) => timer.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((timer) => timer !== due);
      this.t = due.at;
      due.fn();
    }
    this.t = until;
  }
}

interface Played {
  kind: 'hold' | 'model';
  start: number;
  end: number;
}

/** Twilio's side: audio plays in order at real time from when it arrives; clear drops what has not played. */
class FakeEarpiece implements HoldPlayer {
  readonly played: Played[] = [];
  clears = 0;
  private queueEnd = 0;

  constructor(
    private readonly clock: FakeClock,
    private readonly clipMs: number,
  ) {}

  playHold(): boolean {
    this.enqueue('hold', this.clipMs);
    return true;
  }
  queuedMs(): number {
    return Math.max(0, this.queueEnd - this.clock.now());
  }
  clear(): void {
    const now = this.clock.now();
    this.clears++;
    for (const p of this.played) p.end = Math.min(p.end, Math.max(p.start, now));
    this.queueEnd = now;
  }
  enqueue(kind: Played['kind'], ms: number): void {
    const start = Math.max(this.clock.now(), this.queueEnd);
    this.played.push({ kind, start, end: start + ms });
    this.queueEnd = start + ms;
  }
  /** Silences between consecutive audible stretches, up to `until`. */
  silences(until: number): number[] {
    const heard = this.played.filter((p) => p.end > p.start).sort((a, b) => a.start - b.start);
    const gaps: number[] = [];
    for (let i = 1; i < heard.length; i++) gaps.push(heard[i]!.start - heard[i - 1]!.end);
    const last = heard[heard.length - 1];
    if (last && until > last.end) gaps.push(until - last.end);
    return gaps;
  }
}

describe('media gateway: hold loop scheduling', () => {
  for (const clipMs of [2400, 600, 7000]) {
    it(`repeats a ${clipMs} ms clip with ${DEFAULTS.holdAudioGapMs} ms between plays, never more than ${MAX_SILENCE_MS} ms of silence`, () => {
      const clock = new FakeClock();
      const ear = new FakeEarpiece(clock, clipMs);
      const loop = new HoldLoop(ear, DEFAULTS.holdAudioGapMs, clock);
      loop.start();
      clock.advance(30_000);
      const silences = ear.silences(clock.now());
      expect(Math.max(...silences)).to.be.at.most(DEFAULTS.holdAudioGapMs);
      expect(Math.max(...silences)).to.be.lessThan(MAX_SILENCE_MS);
      // Back to back with the gap: as many plays as fit, none overlapping.
      expect(loop.plays).to.equal(Math.ceil(30_000 / (clipMs + DEFAULTS.holdAudioGapMs)));
      expect(
        silences.every((s) => s >= 0),
        'no overlap',
      ).to.equal(true);
    });
  }

  it('stops the moment the model speaks: the clip playing is cut and nothing more is played', () => {
    const clock = new FakeClock();
    const ear = new FakeEarpiece(clock, 2400);
    const loop = new HoldLoop(ear, 800, clock);
    loop.start();
    clock.advance(1000); // one second into the first play
    loop.stop();
    ear.enqueue('model', 3000);
    clock.advance(20_000);
    expect(ear.clears).to.equal(1);
    expect(loop.plays).to.equal(1);
    const [hold, model] = ear.played;
    expect(hold).to.deep.include({ kind: 'hold', start: 0, end: 1000 });
    // The greeting starts at once, not after the rest of the clip.
    expect(model).to.deep.include({ kind: 'model', start: 1000 });
    expect(loop.active).to.equal(false);
  });

  it('in the gap between plays, stopping clears nothing and the next play never comes', () => {
    const clock = new FakeClock();
    const ear = new FakeEarpiece(clock, 2400);
    const loop = new HoldLoop(ear, 800, clock);
    loop.start();
    clock.advance(2400 + 400);
    loop.stop();
    clock.advance(10_000);
    expect(ear.clears).to.equal(0);
    expect(loop.plays).to.equal(1);
  });

  it('queues behind audio already sent, never clears that audio, and times the next play from the real end', () => {
    const clock = new FakeClock();
    const ear = new FakeEarpiece(clock, 2400);
    ear.enqueue('model', 1000); // the tail of what the agent said before its session dropped
    const loop = new HoldLoop(ear, 800, clock);
    loop.start();
    expect(ear.played[1]).to.deep.include({ kind: 'hold', start: 1000, end: 3400 });
    clock.advance(500);
    loop.stop(); // the model is back while its old audio still plays: a clear would drop it
    expect(ear.clears).to.equal(0);
    expect(ear.played[0]).to.deep.include({ end: 1000 });

    const again = new HoldLoop(ear, 800, clock);
    clock.advance(10_000);
    ear.enqueue('model', 1000);
    again.start();
    clock.advance(10_000);
    const holds = ear.played.filter((p) => p.kind === 'hold').slice(1);
    expect(holds[0]!.start, 'right after the 1 s queued at 10.5 s').to.equal(11_500);
    expect(holds[1]!.start - holds[0]!.end).to.equal(800);
  });

  it('a second start while running does not play twice', () => {
    const clock = new FakeClock();
    const ear = new FakeEarpiece(clock, 2400);
    const loop = new HoldLoop(ear, 800, clock);
    loop.start();
    loop.start();
    clock.advance(100);
    loop.start();
    expect(loop.plays).to.equal(1);
  });
});
