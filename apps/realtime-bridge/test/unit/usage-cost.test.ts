import { expect } from 'chai';
import type { ConversationEntry } from '@voice/redis';
import { BRIDGE_DEFAULTS } from '../../src/config.js';
import { costUsd, sumUsage, usageFields } from '../../src/call/usage-cost.js';

const prices = BRIDGE_DEFAULTS.pricesPer1M;

describe('bridge: token usage and cost', () => {
  it('reads a response.done usage, cached tokens split by modality', () => {
    const fields = usageFields({
      input_tokens: 1200,
      output_tokens: 300,
      input_token_details: {
        text_tokens: 700,
        audio_tokens: 500,
        cached_tokens: 640,
        cached_tokens_details: { text_tokens: 512, audio_tokens: 128 },
      },
      output_token_details: { text_tokens: 50, audio_tokens: 250 },
    });
    expect(fields).to.deep.equal({
      input_tokens: 1200,
      output_tokens: 300,
      input_text_tokens: 700,
      input_audio_tokens: 500,
      input_cached_tokens: 640,
      input_cached_text_tokens: 512,
      input_cached_audio_tokens: 128,
      output_text_tokens: 50,
      output_audio_tokens: 250,
    });
    // A usage without details (or none at all) counts as zeros, never NaN.
    expect(usageFields(undefined).input_tokens).to.equal(0);
    expect(usageFields({ input_tokens: 10, input_token_details: { cached_tokens: 4 } })).to.include({
      input_cached_text_tokens: 4,
      input_cached_audio_tokens: 0,
    });
  });

  it('sums the usage entries of a call and prices them per 1M tokens, cached input at the cached price', () => {
    const usage = (n: Partial<ConversationEntry & { kind: 'usage' }>): ConversationEntry => ({
      kind: 'usage',
      ts: 0,
      response_id: '',
      input_tokens: 0,
      output_tokens: 0,
      input_text_tokens: 0,
      input_audio_tokens: 0,
      input_cached_tokens: 0,
      input_cached_text_tokens: 0,
      input_cached_audio_tokens: 0,
      output_text_tokens: 0,
      output_audio_tokens: 0,
      ...n,
    });
    const entries: ConversationEntry[] = [
      usage({ input_audio_tokens: 600_000, output_audio_tokens: 100_000 }),
      { kind: 'caller', ts: 0, text: 'hi', item_id: '' },
      usage({
        input_audio_tokens: 400_000,
        input_cached_audio_tokens: 250_000,
        input_text_tokens: 1_000_000,
        input_cached_text_tokens: 500_000,
        output_text_tokens: 50_000,
      }),
    ];
    const total = sumUsage(entries);
    expect(total).to.include({
      responses: 2,
      input_audio_tokens: 1_000_000,
      input_cached_audio_tokens: 250_000,
      output_audio_tokens: 100_000,
    });
    // 750k audio in at $32, 250k cached audio at $0.40, 500k text at $4, 500k cached text at $0.40,
    // 100k audio out at $64, 50k text out at $16.
    const expected = 0.75 * 32 + 0.25 * 0.4 + 0.5 * 4 + 0.5 * 0.4 + 0.1 * 64 + 0.05 * 16;
    expect(costUsd(total, prices)).to.be.closeTo(expected, 1e-9);
  });
});
