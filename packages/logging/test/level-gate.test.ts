/**
 * A service at `warn` must not pay for its `info` lines (the timeline writes one per checkpoint),
 * and must still print, whole, the lines at or above its level, from the logger and its children.
 */
import { expect } from 'chai';
import { callLogger, createLogger } from '../src/index.js';

/** A meta value that counts how often the JSON format read it (safe-stable-stringify calls toJSON). */
function probe(): { reads: number; toJSON(): string } {
  return {
    reads: 0,
    toJSON() {
      this.reads++;
      return 'probed';
    },
  };
}

/** What the Console transport printed while `run` ran (it writes to process.stdout). */
function printed(run: () => void): string[] {
  const lines: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk).trim());
    return true;
  }) as typeof process.stdout.write;
  try {
    run();
  } finally {
    process.stdout.write = write;
  }
  return lines;
}

describe('logging: levels below the logger level cost nothing', () => {
  const logger = createLogger({ service: 'test', instance: 'test-1', level: 'warn' });
  const child = callLogger(logger, { callSid: `CA${'1'.repeat(32)}` });

  it('never formats a filtered entry, in any of the ways it can be written', () => {
    const p = probe();
    const lines = printed(() => {
      logger.info('stream started', { p });
      child.info('stream started', { p });
      child.debug('frame', { p });
      child.log('info', 'checkpoint', { p });
      child.log({ level: 'info', message: 'checkpoint', p });
    });
    expect(lines).to.deep.equal([]);
    expect(p.reads).to.equal(0);
  });

  it('prints entries at or above the level, with the child fields, in every form', () => {
    const p = probe();
    const lines = printed(() => {
      child.warn('slow peer', { p });
      child.log('error', 'link cut', { p });
      child.log({ level: 'warn', message: 'as object', p });
    });
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.map((e) => [e.level, e.message, e.p, e.callSid, e.service])).to.deep.equal([
      ['warn', 'slow peer', 'probed', `CA${'1'.repeat(32)}`, 'test'],
      ['error', 'link cut', 'probed', `CA${'1'.repeat(32)}`, 'test'],
      ['warn', 'as object', 'probed', `CA${'1'.repeat(32)}`, 'test'],
    ]);
  });

  it('follows a level changed at run time, children included', () => {
    const live = createLogger({ service: 'test', instance: 'test-2', level: 'warn' });
    const liveChild = callLogger(live, { callSid: `CA${'2'.repeat(32)}` });
    live.level = 'info';
    const lines = printed(() => liveChild.info('now shown'));
    expect(lines).to.have.length(1);
    expect(JSON.parse(lines[0]!)).to.include({ level: 'info', message: 'now shown' });
  });

  it('prints nothing at all when silent', () => {
    const silent = createLogger({ service: 'test', instance: 'test-3', level: 'silent' });
    expect(printed(() => callLogger(silent, { callSid: 'CA1' }).error('not shown'))).to.deep.equal([]);
  });
});
