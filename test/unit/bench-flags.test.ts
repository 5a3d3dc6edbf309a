/**
 * `npm run bench` flags: `--service-env KEY=VALUE`, the A/B switch for a service setting,
 * reaches the flags whole (a malformed one is refused before anything starts); `--rounds` and
 * `--source` choose how often and in which form the set-ups run.
 */
import { expect } from 'chai';
import { BenchUsageError, parseBenchFlags, type BenchFlags } from '../../scripts/bench/flags.js';

function parsed(argv: string[]): BenchFlags {
  const flags = parseBenchFlags(argv);
  if (flags === 'help') throw new Error('expected flags, got help');
  return flags;
}

describe('bench flags: --service-env', function () {
  it('passes every KEY=VALUE through, values kept whole', function () {
    const flags = parsed(['--service-env', 'MEDIA_LINK_COALESCE_MS=1', '--service-env', 'LOG_LEVEL=a=b']);
    expect(flags.serviceEnv).to.deep.equal({ MEDIA_LINK_COALESCE_MS: '1', LOG_LEVEL: 'a=b' });
  });

  it('is empty by default', function () {
    expect(parsed([]).serviceEnv).to.deep.equal({});
  });

  it('refuses an assignment without a capitalised name', function () {
    expect(() => parsed(['--service-env', 'coalesce=1'])).to.throw(BenchUsageError, /KEY=VALUE/);
    expect(() => parsed(['--service-env', 'MEDIA_LINK_COALESCE_MS'])).to.throw(BenchUsageError, /KEY=VALUE/);
  });
});

describe('bench flags: --rounds and --source', function () {
  it('runs one round of the build by default', function () {
    const flags = parsed([]);
    expect(flags.rounds).to.equal(1);
    expect(flags.runtime).to.equal('build');
  });

  it('takes a whole number of rounds, and --source for the TypeScript sources', function () {
    const flags = parsed(['--rounds', '3', '--source']);
    expect(flags.rounds).to.equal(3);
    expect(flags.runtime).to.equal('source');
    expect(() => parsed(['--rounds', '0'])).to.throw(BenchUsageError);
    expect(() => parsed(['--rounds', '1.5'])).to.throw(BenchUsageError);
  });
});

describe('bench flags: the floor of the shape', function () {
  it('measures 50 calls by default, 10 in the quick profile', function () {
    expect(parsed([]).floor).to.deep.equal({ calls: 50, seconds: 15 });
    expect(parsed(['--quick']).floor).to.deep.equal({ calls: 10, seconds: 3 });
  });

  it('takes --floor-calls, and --no-floor or --only-outbound switch it off', function () {
    expect(parsed(['--floor-calls', '200']).floor?.calls).to.equal(200);
    expect(parsed(['--no-floor']).floor).to.equal(undefined);
    expect(parsed(['--only-outbound']).floor).to.equal(undefined);
    expect(() => parsed(['--floor-calls', '0'])).to.throw(BenchUsageError);
  });
});
