import { expect } from 'chai';
import { OpenAIConnectError, classifyConnectFailure } from '../../src/realtime/errors.js';

describe('bridge: Realtime connect failure classification', () => {
  it('names what the handshake said', () => {
    expect(classifyConnectFailure('Unexpected server response: 401')).to.equal('OPENAI_AUTH');
    expect(classifyConnectFailure('Unexpected server response: 403')).to.equal('OPENAI_AUTH');
    expect(classifyConnectFailure('Unexpected server response: 404')).to.equal('OPENAI_MODEL');
    expect(classifyConnectFailure('Unexpected server response: 503')).to.equal('OPENAI_UPSTREAM');
    expect(classifyConnectFailure('Unexpected server response: 429')).to.equal('OPENAI_UPSTREAM');
    expect(classifyConnectFailure('connect ECONNREFUSED 127.0.0.1:443')).to.equal('OPENAI_REFUSED');
    expect(
      classifyConnectFailure(
        'Client network socket disconnected before secure TLS connection was established',
        undefined,
        'ECONNRESET',
      ),
    ).to.equal('OPENAI_REFUSED');
    expect(classifyConnectFailure('whatever', 'insufficient_quota')).to.equal('OPENAI_QUOTA');
    expect(classifyConnectFailure('whatever', 'invalid_api_key')).to.equal('OPENAI_AUTH');
    expect(classifyConnectFailure('something new')).to.equal('OPENAI_ERROR');
  });

  it('does not retry what cannot succeed, and says what to check', () => {
    expect(new OpenAIConnectError('OPENAI_AUTH', 'x').fatal).to.equal(true);
    expect(new OpenAIConnectError('OPENAI_QUOTA', 'x').fatal).to.equal(true);
    expect(new OpenAIConnectError('OPENAI_MODEL', 'x').fatal).to.equal(true);
    expect(new OpenAIConnectError('OPENAI_CONNECT_TIMEOUT', 'x').fatal).to.equal(false);
    expect(new OpenAIConnectError('OPENAI_REFUSED', 'x').fatal).to.equal(false);
    expect(new OpenAIConnectError('OPENAI_AUTH', '401').message).to.match(/check OPENAI_API_KEY/);
  });
});
