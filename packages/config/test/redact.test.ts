import { expect } from 'chai';
import { field, parseEnv, redactUrlPassword, type ConfigError } from '../src/index.js';

describe('config: passwords inside URLs are never printed', () => {
  it('redacts the password of a URL and leaves everything else readable', () => {
    expect(redactUrlPassword('redis://:s3cret@10.0.0.5:6379/2')).to.equal('redis://:***@10.0.0.5:6379/2');
    expect(redactUrlPassword('postgres://voice:s3cret@db.internal:5432/voice')).to.equal(
      'postgres://voice:***@db.internal:5432/voice',
    );
    expect(redactUrlPassword('postgres://postgres@127.0.0.1:5432/postgres')).to.equal(
      'postgres://postgres@127.0.0.1:5432/postgres',
    );
    expect(redactUrlPassword('redis://127.0.0.1:6379')).to.equal('redis://127.0.0.1:6379');
    expect(redactUrlPassword('not a url')).to.equal('not a url');
  });

  it('a malformed URL variable fails start naming the variable, without the password in it', () => {
    const shape = { DATABASE_URL: field.databaseUrl(), REDIS_URL: field.redisUrl() };
    const bad = (env: Record<string, string>) => {
      try {
        parseEnv(shape, env);
      } catch (err) {
        return err as ConfigError;
      }
      throw new Error('expected a ConfigError');
    };
    const db = bad({ DATABASE_URL: 'mysql://voice:s3cret-db@db:3306/voice' });
    expect(db.variable).to.equal('DATABASE_URL');
    expect(db.message).to.include('mysql://voice:***@db:3306/voice').and.not.include('s3cret-db');
    const redis = bad({ REDIS_URL: 'http://:s3cret-redis@cache:6379' });
    expect(redis.variable).to.equal('REDIS_URL');
    expect(redis.message).not.to.include('s3cret-redis');
  });
});
