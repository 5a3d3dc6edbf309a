/** Which tools and DTMF a business's agent gets comes from its row; the prebuilt prompt carries both. */
import { expect } from 'chai';
import { buildPrompt, parsePrebuiltPrompt, toolNamesFor, toolsFor, type BusinessProfile } from '../src/index.js';

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
