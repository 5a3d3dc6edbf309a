import { expect } from 'chai';
import { twilioInboundMessage } from '@voice/protocols';
import { decodeFrame } from '../../src/session/decode-frame.js';

/** Media frames skip zod for speed; they must accept and refuse exactly what the schema does. */
describe('media gateway: the media fast path agrees with the schema', () => {
  const valid = {
    event: 'media',
    sequenceNumber: '3',
    streamSid: 'MZ1',
    media: { track: 'inbound', chunk: '2', timestamp: '40', payload: '/////w==' },
  };
  const variants: Array<[string, unknown]> = [
    ['valid', valid],
    ['extra fields', { ...valid, extra: 1, media: { ...valid.media, more: true } }],
    ['numeric chunk', { ...valid, media: { ...valid.media, chunk: 2 } }],
    ['non-digit timestamp', { ...valid, media: { ...valid.media, timestamp: '4a' } }],
    ['missing payload', { ...valid, media: { track: 'inbound', chunk: '2', timestamp: '40' } }],
    ['media null', { ...valid, media: null }],
    ['media string', { ...valid, media: 'x' }],
    ['numeric sequenceNumber', { ...valid, sequenceNumber: 3 }],
    ['missing streamSid', { event: 'media', sequenceNumber: '3', media: valid.media }],
    ['empty sequenceNumber', { ...valid, sequenceNumber: '' }],
    ['payload number', { ...valid, media: { ...valid.media, payload: 5 } }],
  ];

  for (const [name, message] of variants) {
    it(`${name}: same verdict as the zod schema`, () => {
      const decoded = decodeFrame(Buffer.from(JSON.stringify(message)), false);
      const schema = twilioInboundMessage.safeParse(message);
      expect(decoded.ok).to.equal(schema.success);
      if (decoded.ok && schema.success) expect(decoded.message).to.deep.equal(schema.data);
    });
  }
});
