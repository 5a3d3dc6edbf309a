/** Which tools and DTMF a business's agent gets comes from its row; the prebuilt prompt carries both. */
import { expect } from 'chai';
import {
  PROMPT_BUILDER_VERSION,
  REFERENCE_BUSINESSES,
  buildPrompt,
  parsePrebuiltPrompt,
  promptBuilderFingerprint,
  toolNamesFor,
  toolsFor,
  type BusinessProfile,
} from '../src/index.js';

const BUSINESS: BusinessProfile = {
  id: 'b1',
  name: 'Test Dental',
  aiPrompt: 'You are the receptionist.',
  greeting: 'Hi, Test Dental.',
  appointmentBookingEnabled: true,
};

describe('agent prompt: tools and key presses as data', () => {
  it('offers booking, end_call and transfer_call as the business row says (the columns default to on)', () => {
    expect(toolNamesFor(BUSINESS)).to.deep.equal(['book_appointment', 'end_call', 'transfer_call']);
    expect(toolNamesFor({ ...BUSINESS, appointmentBookingEnabled: false, endCallEnabled: false })).to.deep.equal([
      'transfer_call',
    ]);
    expect(
      toolNamesFor({
        ...BUSINESS,
        appointmentBookingEnabled: false,
        endCallEnabled: false,
        transferCallEnabled: false,
      }),
    ).to.deep.equal([]);
    expect(toolsFor(['end_call', 'transfer_call', 'no_such_tool']).map((t) => t.name)).to.deep.equal([
      'end_call',
      'transfer_call',
    ]);
  });

  it('tells the model about the tools and key presses it has, and only those', () => {
    const all = buildPrompt(BUSINESS, 'inbound');
    expect(all.instructions)
      .to.match(/call end_call/)
      .and.to.match(/call transfer_call/)
      .and.to.match(/pressed N on the keypad/);
    expect(all.dtmfEnabled).to.equal(true);
    const none = buildPrompt(
      { ...BUSINESS, endCallEnabled: false, transferCallEnabled: false, dtmfEnabled: false },
      'inbound',
    );
    expect(none.instructions).not.to.match(/end_call|transfer_call|keypad/);
    expect(none.dtmfEnabled).to.equal(false);
    expect(parsePrebuiltPrompt(JSON.stringify(none))).to.deep.equal(none);
  });

  it('reads a prompt prebuilt before the DTMF flag existed as DTMF on', () => {
    const { dtmfEnabled: _omitted, ...older } = buildPrompt(BUSINESS, 'inbound');
    expect(parsePrebuiltPrompt(JSON.stringify(older))?.dtmfEnabled).to.equal(true);
  });
});

describe('agent prompt: the builder version cached prompts carry', () => {
  it('is the fingerprint of what buildPrompt says, not of when it was called', () => {
    expect(PROMPT_BUILDER_VERSION).to.match(/^[0-9a-f]{12}$/);
    expect(promptBuilderFingerprint()).to.equal(PROMPT_BUILDER_VERSION);
    expect(
      promptBuilderFingerprint((b, d) => buildPrompt(b, d, 123_456)),
      'the build time',
    ).to.equal(PROMPT_BUILDER_VERSION);
  });

  it('changes when the output changes in any branch the reference businesses take', () => {
    type Change = (prompt: ReturnType<typeof buildPrompt>, business: BusinessProfile) => void;
    const changes: Record<string, Change> = {
      'a sentence of the instructions': (p) => (p.instructions = p.instructions.replace('Speak briefly', 'Be brief')),
      'the line for a business without booking': (p, b) => {
        if (!b.appointmentBookingEnabled) p.instructions += '\nNo bookings.';
      },
      'the line for DTMF off': (p) => {
        if (!p.dtmfEnabled) p.instructions += '\nIgnore keys.';
      },
      'the default voice': (p, b) => {
        if (!b.voice) p.voice = 'alloy';
      },
      'the outbound prompt': (p) => {
        if (p.direction === 'outbound') p.instructions += '\nYou placed this call.';
      },
      'the tools of a business with columns at their defaults': (p, b) => {
        if (b.endCallEnabled === undefined) p.toolNames = [...p.toolNames].reverse().concat('end_call');
      },
    };
    const seen = new Set([PROMPT_BUILDER_VERSION]);
    for (const [what, change] of Object.entries(changes)) {
      const fingerprint = promptBuilderFingerprint((business, direction, now) => {
        const prompt = buildPrompt(business, direction, now);
        change(prompt, business);
        return prompt;
      });
      expect(seen.has(fingerprint), what).to.equal(false);
      seen.add(fingerprint);
    }
  });

  it('the reference businesses take the cut at a sentence and the cut mid-word', () => {
    const cuts = REFERENCE_BUSINESSES.map((b) => buildPrompt(b, 'inbound').instructions.split('\n')[1]!);
    expect(cuts.some((line) => line.endsWith('.') && line.length > 200)).to.equal(true);
    expect(cuts.some((line) => line.endsWith('…'))).to.equal(true);
  });
});
