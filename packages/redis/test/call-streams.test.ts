import { expect } from 'chai';
import {
  InvalidStreamEntryError,
  decodeInbound,
  decodeInboundEntries,
  decodeOutbound,
  encodeInbound,
  encodeOutbound,
  type InboundEntry,
  type OutboundEntry,
} from '../src/index.js';

describe('redis: per-call stream entries', () => {
  it('round-trips every inbound kind', () => {
    const entries: InboundEntry[] = [
      { kind: 'start', streamSid: 'MZ1', gateway: 'gw-1', startedAt: 1000, acceptedAt: 990, customParameters: { businessId: 'b', direction: 'inbound' } },
      { kind: 'media', payload: '/////w==', chunk: 7, at: 1234.567 },
      { kind: 'mark', name: 'item|120' },
      { kind: 'dtmf', digit: '5' },
      { kind: 'stop', reason: 'twilio_stop', rx: 10, tx: 4, txBytes: 3200, firstAudioAt: 1500, endedAt: 2000, invalidMessages: 1 },
    ];
    for (const entry of entries) expect(decodeInbound('1-0', encodeInbound(entry))).to.deep.equal(entry);
  });

  it('round-trips every outbound kind, marks carried inside media', () => {
    const entries: OutboundEntry[] = [
      { kind: 'media', payload: 'AAAA', at: 5.5, greeting: true, markBefore: 'item|0', markAfter: 'item|100' },
      { kind: 'media', payload: 'AAAA', at: 5.5, markAfter: 'item|200' },
      { kind: 'mark', name: 'x' },
      { kind: 'clear' },
      { kind: 'play', clip: 'hold' },
      { kind: 'hangup', reason: 'OPENAI_AUTH', clip: 'fallback' },
      { kind: 'hangup', reason: 'BRIDGE_SHUTDOWN' },
    ];
    for (const entry of entries) expect(decodeOutbound('1-0', encodeOutbound(entry))).to.deep.equal(entry);
  });

  it('refuses malformed entries with a named error instead of guessing', () => {
    expect(() => decodeInbound('1-0', ['kind', 'teleport'])).to.throw(InvalidStreamEntryError, /unknown inbound kind/);
    expect(() => decodeInbound('1-0', ['kind', 'stop', 'reason', 'x'])).to.throw(InvalidStreamEntryError, /missing field "rx"/);
    expect(() => decodeOutbound('1-0', ['kind', 'play', 'clip', 'nope'])).to.throw(InvalidStreamEntryError, /unknown clip/);
    const skipped: string[] = [];
    const decoded = decodeInboundEntries(
      [
        ['1-0', ['kind', 'mark', 'name', 'a']],
        ['2-0', ['garbage', '1']],
        ['3-0', ['kind', 'dtmf', 'digit', '1']],
      ],
      (err) => skipped.push(err.entryId),
    );
    expect(decoded.map((e) => e.kind)).to.deep.equal(['mark', 'dtmf']);
    expect(skipped).to.deep.equal(['2-0']);
  });
});
