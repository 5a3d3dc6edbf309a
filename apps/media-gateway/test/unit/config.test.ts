import { expect } from 'chai';
import { ConfigError } from '@voice/config';
import { DEFAULTS, loadGatewayConfig } from '../../src/config.js';

const required = {
  PUBLIC_STREAM_URL: 'wss://voice.example.com/ws/twilio-media',
  TWILIO_AUTH_TOKEN: 'secret',
};

describe('media gateway config', () => {
  it('applies the named defaults', () => {
    const config = loadGatewayConfig(required);
    expect(config).to.include({
      port: DEFAULTS.port,
      namespace: 'voice',
      startWarnMs: 2500,
      startTimeoutMs: 5000,
      maxMessageBytes: 65_536,
      maxMessagesPerSecond: 200,
      drainTimeoutMs: 20_000,
      redisUrl: 'redis://127.0.0.1:6379',
      logLevel: 'info',
    });
    expect(config.instanceId).to.match(/^media-gateway-/);
  });

  it('reads overrides', () => {
    const config = loadGatewayConfig({
      ...required,
      GATEWAY_PORT: '4001',
      START_WARN_MS: '100',
      START_TIMEOUT_MS: '200',
    });
    expect(config).to.include({ port: 4001, startWarnMs: 100, startTimeoutMs: 200 });
  });

  it('names the missing variable', () => {
    expect(() => loadGatewayConfig({ PUBLIC_STREAM_URL: required.PUBLIC_STREAM_URL }))
      .to.throw(ConfigError)
      .with.property('variable', 'TWILIO_AUTH_TOKEN');
  });

  it('refuses a stream URL Twilio could not use or would sign differently', () => {
    for (const url of [
      'https://voice.example.com/ws/twilio-media',
      'wss://voice.example.com/other',
      'wss://voice.example.com/ws/twilio-media/',
      'wss://voice.example.com/ws/twilio-media?x=1',
    ]) {
      expect(() => loadGatewayConfig({ ...required, PUBLIC_STREAM_URL: url }), url)
        .to.throw(ConfigError)
        .with.property('variable', 'PUBLIC_STREAM_URL');
    }
  });

  it('refuses a warn threshold at or above the timeout', () => {
    expect(() => loadGatewayConfig({ ...required, START_WARN_MS: '5000', START_TIMEOUT_MS: '5000' }))
      .to.throw(ConfigError)
      .with.property('variable', 'START_WARN_MS');
  });
});
