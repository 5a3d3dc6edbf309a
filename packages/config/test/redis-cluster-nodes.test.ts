import { expect } from 'chai';
import { ConfigError, field, parseEnv } from '../src/index.js';

const VARIABLE = 'REDIS_CLUSTER_NODES';

function parse(value: string | undefined) {
  return parseEnv({ [VARIABLE]: field.redisClusterNodes() }, { [VARIABLE]: value })[VARIABLE];
}

function parseError(value: string): ConfigError {
  try {
    parse(value);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`"${value}" was accepted`);
}

describe('config: REDIS_CLUSTER_NODES', () => {
  it('is optional: unset or empty means no cluster (REDIS_URL applies)', () => {
    expect(parse(undefined)).to.equal(undefined);
    expect(parse('')).to.equal(undefined);
    expect(parse('   ')).to.equal(undefined);
  });

  it('parses comma-separated host:port seed nodes, ignoring spaces and empty entries', () => {
    expect(parse('127.0.0.1:7000')).to.deep.equal([{ host: '127.0.0.1', port: 7000 }]);
    expect(parse(' redis-0.redis:6379 , redis-1.redis:6380,,redis-2.redis:6381 ')).to.deep.equal([
      { host: 'redis-0.redis', port: 6379 },
      { host: 'redis-1.redis', port: 6380 },
      { host: 'redis-2.redis', port: 6381 },
    ]);
  });

  it('takes IPv6 addresses in brackets and returns them without', () => {
    expect(parse('[::1]:7000,[fd00::2]:7001')).to.deep.equal([
      { host: '::1', port: 7000 },
      { host: 'fd00::2', port: 7001 },
    ]);
  });

  for (const bad of [
    'localhost',
    'redis://127.0.0.1:7000',
    '127.0.0.1:',
    ':7000',
    '127.0.0.1:0',
    '127.0.0.1:65536',
    '127.0.0.1:70a',
    'a b:7000',
    '::1:7000',
  ]) {
    it(`refuses "${bad}" with an error that names the variable`, () => {
      const err = parseError(bad);
      expect(err.variable).to.equal(VARIABLE);
      expect(err.message).to.include(VARIABLE);
      expect(err.message).to.include('host:port');
    });
  }

  it('names the bad entry among good ones', () => {
    const err = parseError('127.0.0.1:7000,127.0.0.1:seven');
    expect(err.message).to.include('"127.0.0.1:seven"');
  });

  it('refuses a value that names no node at all instead of falling back to REDIS_URL', () => {
    const err = parseError(' , ');
    expect(err.variable).to.equal(VARIABLE);
    expect(err.message).to.match(/names no node/);
  });
});
