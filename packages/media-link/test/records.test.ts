import { expect } from 'chai';
import {
  InvalidRecordError,
  decodeBridgeRecord,
  decodeGatewayRecord,
  encodeBridgeRecord,
  encodeGatewayRecord,
  type BridgeRecord,
  type GatewayRecord,
} from '../src/index.js';

const CALL = `CA${'ab'.repeat(16)}`;
const FRAME = Buffer.alloc(160, 0xff).toString('base64');

describe('media link: records', () => {
  it('round-trips every gateway record, audio untouched', () => {
    const records: GatewayRecord[] = [
      {
        t: 'attach',
        call: CALL,
        ch: 7,
        streamSid: 'MZ1',
        gateway: 'gw-1',
        startedAt: 1000,
        acceptedAt: 990,
        params: { businessId: 'b', direction: 'inbound' },
      },
      {
        t: 'attach',
        call: CALL,
        ch: 8,
        streamSid: 'MZ1',
        gateway: 'gw-1',
        startedAt: 1000,
        acceptedAt: 990,
        params: {},
        handover: { from: 'bridge-1', at: 5000, planned: true },
      },
      { t: 'media', ch: 7, payload: FRAME },
      { t: 'mark', ch: 7, name: 'item_1|120' },
      { t: 'dtmf', ch: 7, digit: '5' },
      {
        t: 'stop',
        call: CALL,
        reason: 'twilio_stop',
        rx: 10,
        tx: 4,
        txBytes: 3200,
        firstAudioAt: 1500,
        endedAt: 2000,
        invalidMessages: 1,
      },
      { t: 'detach', call: CALL, ch: 3, reason: 'gateway_shutdown' },
    ];
    for (const record of records) {
      const line = encodeGatewayRecord(record);
      expect(line.endsWith('\n') && line.indexOf('\n') === line.length - 1, 'one line').to.equal(true);
      expect(decodeGatewayRecord(line.slice(0, -1))).to.deep.equal(record);
    }
    // The hot path carries Twilio's base64 as is, with no JSON around it.
    expect(encodeGatewayRecord({ t: 'media', ch: 7, payload: FRAME })).to.equal(`m 7 ${FRAME}\n`);
  });

  it('round-trips every bridge record', () => {
    const records: BridgeRecord[] = [
      { t: 'owner', call: CALL, owner: 'bridge-2' },
      { t: 'attached', call: CALL, ch: 3 },
      { t: 'refused', call: CALL, ch: 3, reason: 'not_here' },
      { t: 'media', ch: 3, payload: FRAME, at: 1234.5, greeting: true, markBefore: 'item|0', markAfter: 'item|20' },
      { t: 'media', ch: 3, payload: FRAME, at: 1234.5, greeting: false },
      { t: 'mark', ch: 3, name: 'm1' },
      { t: 'clear', ch: 3 },
      { t: 'play', ch: 3, clip: 'hold' },
      { t: 'hold', ch: 3, on: true },
      { t: 'hold', ch: 3, on: false },
      { t: 'hangup', ch: 3, reason: 'model_unreachable', clip: 'fallback' },
      { t: 'hangup', ch: 3, reason: 'done' },
      { t: 'rehome', ch: 3 },
      { t: 'rehome', ch: 3, keys: '12*' },
    ];
    for (const record of records)
      expect(decodeBridgeRecord(encodeBridgeRecord(record).slice(0, -1))).to.deep.equal(record);
  });

  it('refuses what is not a record, with a reason', () => {
    const bad = [
      'x 1 2',
      'm',
      'm notanumber AAAA',
      'c {not json',
      'c {"t":"attach","call":"CAnope"}',
      'c {"t":"play","ch":1,"clip":"no-such-clip"}',
      'c {"t":"teleport"}',
    ];
    for (const line of bad) {
      expect(
        () => (line.startsWith('c {"t":"play"') ? decodeBridgeRecord(line) : decodeGatewayRecord(line)),
        line,
      ).to.throw(InvalidRecordError);
    }
    // A rehome's keys are keypad keys, nothing else.
    expect(() => decodeBridgeRecord('c {"t":"rehome","ch":1,"keys":"1 2"}')).to.throw(InvalidRecordError);
    // A mark name with a space could never be split back out of a line.
    expect(() => encodeBridgeRecord({ t: 'mark', ch: 1, name: 'two words' })).to.throw(InvalidRecordError);
  });
});
