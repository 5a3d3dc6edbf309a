import { expect } from 'chai';
import { decodeFrame, isBase64 } from '../../src/session/decode-frame.js';
import { FloodGuard } from '../../src/session/flood-guard.js';
import { parseStreamRoute } from '../../src/upgrade.js';

const CALL_SID = 'CA0123456789abcdef0123456789abcdef';

describe('media gateway units', () => {
  it('routes the stream path with and without a CallSid, and nothing else', () => {
    expect(parseStreamRoute('/ws/twilio-media')).to.deep.equal({ suffix: '' });
    expect(parseStreamRoute(`/ws/twilio-media/${CALL_SID}`)).to.deep.equal({
      callSid: CALL_SID,
      suffix: `/${CALL_SID}`,
    });
    // Twilio strips query strings; one that arrives anyway is not part of the route.
    expect(parseStreamRoute('/ws/twilio-media?x=1')).to.deep.equal({ suffix: '' });
    for (const bad of [
      undefined,
      '/',
      '/ws/twilio-media/',
      '/ws/twilio-media/CA{x}',
      `/ws/twilio-media/${CALL_SID}/x`,
      '/ws/twilio-mediaX',
    ]) {
      expect(parseStreamRoute(bad), String(bad)).to.equal(undefined);
    }
  });

  it('classifies frames', () => {
    expect(decodeFrame(Buffer.from('x'), true)).to.include({ ok: false, kind: 'binary' });
    expect(decodeFrame(Buffer.from('{'), false)).to.include({ ok: false, kind: 'not_json' });
    expect(decodeFrame(Buffer.from('[]'), false)).to.include({ ok: false, kind: 'unknown_event' });
    expect(decodeFrame(Buffer.from('{"event":"media"}'), false)).to.include({ ok: false, kind: 'schema' });
    const connected = decodeFrame(Buffer.from('{"event":"connected","protocol":"Call","version":"1.0.0"}'), false);
    expect(connected.ok).to.equal(true);
  });

  it('accepts only padded standard base64', () => {
    expect(isBase64(Buffer.alloc(160, 0xff).toString('base64'))).to.equal(true);
    expect(isBase64('abc')).to.equal(false);
    expect(isBase64('ab-_')).to.equal(false);
    expect(isBase64('')).to.equal(false);
  });

  it('caps messages per window and opens a new window after it', () => {
    const guard = new FloodGuard(2, 1000);
    expect([guard.admit(0), guard.admit(10), guard.admit(20)]).to.deep.equal([true, true, false]);
    expect(guard.admit(1000)).to.equal(true);
  });
});
