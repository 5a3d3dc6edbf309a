import { expect } from 'chai';
import { GATEWAY_LOST, HANGUP_DURING_RECONNECT, lostStreamReason } from '../../src/call/lost-stream.js';

describe('bridge: a stream lost past the reattach grace', () => {
  it('is an ordinary hangup when Twilio says the call completed and the caller was not given the fallback', () => {
    // No action at all: the caller hung up before Twilio could post it.
    expect(lostStreamReason('completed', null)).to.equal(HANGUP_DURING_RECONNECT);
    // A reconnect was answered, and the caller hung up before the new stream came (a stream that
    // failed to open while the call was up would have brought another action).
    expect(lostStreamReason('completed', 'reconnect')).to.equal(HANGUP_DURING_RECONNECT);
  });

  it('stays gateway_lost when the caller heard the fallback, is still on the line, or Twilio could not be asked', () => {
    expect(lostStreamReason('completed', 'fallback:reconnects_exhausted')).to.equal(GATEWAY_LOST);
    expect(lostStreamReason('in-progress', null)).to.equal(GATEWAY_LOST);
    expect(lostStreamReason(undefined, null)).to.equal(GATEWAY_LOST);
    // Not answered, busy, failed: not a call the caller hung up on mid-conversation.
    expect(lostStreamReason('failed', null)).to.equal(GATEWAY_LOST);
  });
});
