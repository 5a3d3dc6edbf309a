import { expect } from 'chai';
import { ConfigError } from '@voice/config';
import { MEDIA_LINK_DEFAULTS } from '@voice/media-link';
import { BRIDGE_REGISTRY_DEFAULTS } from '@voice/redis';
import { DEFAULTS, loadGatewayConfig } from '../../src/config.js';

const SECRET = 'unit-test-media-link-secret';
const required = {
  PUBLIC_STREAM_URL: 'wss://voice.example.com/ws/twilio-media',
  TWILIO_AUTH_TOKEN: 'secret',
  MEDIA_LINK_SECRET: SECRET,
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
      logLevel: 'info',
      registryPollMs: DEFAULTS.registryPollMs,
      registryStaleMs: DEFAULTS.bridgeHeartbeatMs * BRIDGE_REGISTRY_DEFAULTS.staleAfterBeats,
      claimTimeoutMs: DEFAULTS.claimTimeoutMs,
      attachTimeoutMs: DEFAULTS.attachTimeoutMs,
      maxStreams: DEFAULTS.maxStreams,
    });
    expect(config.redis.url).to.equal('redis://127.0.0.1:6379');
    expect(config.link).to.deep.equal({
      secret: SECRET,
      timings: {
        pingIntervalMs: MEDIA_LINK_DEFAULTS.pingIntervalMs,
        deadAfterMs: MEDIA_LINK_DEFAULTS.deadAfterMs,
        coalesceMs: MEDIA_LINK_DEFAULTS.coalesceMs,
      },
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

  it('reads the media link, registry and admission overrides', () => {
    const config = loadGatewayConfig({
      ...required,
      MEDIA_LINK_PING_MS: '100',
      MEDIA_LINK_DEAD_MS: '400',
      MEDIA_LINK_COALESCE_MS: '0',
      HEARTBEAT_MS: '200',
      REGISTRY_POLL_MS: '50',
      CLAIM_TIMEOUT_MS: '300',
      GATEWAY_MAX_STREAMS: '7',
    });
    expect(config.link.timings).to.deep.equal({ pingIntervalMs: 100, deadAfterMs: 400, coalesceMs: 0 });
    expect(config).to.include({
      registryStaleMs: 200 * BRIDGE_REGISTRY_DEFAULTS.staleAfterBeats,
      registryPollMs: 50,
      claimTimeoutMs: 300,
      maxStreams: 7,
    });
  });

  it('names MEDIA_LINK_SECRET when it is missing or too short to be a secret', () => {
    for (const env of [
      { ...required, MEDIA_LINK_SECRET: undefined },
      { ...required, MEDIA_LINK_SECRET: 'short' },
    ]) {
      expect(() => loadGatewayConfig(env))
        .to.throw(ConfigError)
        .with.property('variable', 'MEDIA_LINK_SECRET');
    }
  });

  it('refuses a link dead limit at or below the ping interval', () => {
    expect(() => loadGatewayConfig({ ...required, MEDIA_LINK_PING_MS: '500', MEDIA_LINK_DEAD_MS: '500' }))
      .to.throw(ConfigError)
      .with.property('variable', 'MEDIA_LINK_DEAD_MS');
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
