import { expect } from 'chai';
import { abandonedStage, silentFailureReason, type StopEntry } from '../../src/call/call-outcome.js';
import type { CallStats } from '../../src/call/call-stats.js';

const started = {
  claimedAt: 1000,
  streamStartedAt: 1010,
  connectStartedAt: 1020,
  connectAttempts: 0,
  toolsCount: 0,
  bargeIns: 0,
};
const hangup: StopEntry = {
  reason: 'twilio_stop',
  rx: 200,
  tx: 120,
  txBytes: 19_200,
  endedAt: 5000,
  invalidMessages: 0,
};

describe('bridge: abandoned vs silent calls', () => {
  it('a caller who heard the hold clip and hung up while connecting or configuring abandoned the call', () => {
    const connecting: CallStats = { ...started, holdClips: 1 };
    expect(abandonedStage(connecting, hangup)).to.equal('connecting');
    expect(abandonedStage({ ...connecting, connectedAt: 1500 }, { ...hangup, reason: 'socket_closed' })).to.equal(
      'configuring',
    );
    // The stream broke during setup and Twilio says the caller then hung up: still the caller's choice.
    expect(abandonedStage(connecting, { ...hangup, reason: 'caller_hangup_during_reconnect' })).to.equal('connecting');
    expect(abandonedStage(connecting, { ...hangup, reason: 'gateway_lost' }), 'our fault, not abandoned').to.equal(
      undefined,
    );
  });

  it('is a silent failure once the greeting was requested and the model never spoke', () => {
    const requested: CallStats = {
      ...started,
      connectedAt: 1500,
      configuredAt: 1600,
      greetingRequestedAt: 1600,
      holdClips: 2,
    };
    expect(abandonedStage(requested, hangup)).to.equal(undefined);
    expect(silentFailureReason(requested, hangup)).to.equal('no_model_audio');
  });

  it('is neither when the caller was told (a fallback), nor abandoned when nothing at all reached the caller', () => {
    const fellBack: CallStats = { ...started, holdClips: 1, fallbackReason: 'OPENAI_REFUSED' };
    expect(abandonedStage(fellBack, hangup)).to.equal(undefined);
    expect(silentFailureReason(fellBack, hangup)).to.equal(undefined);
    const nothingSent: CallStats = { ...started, holdClips: 1 };
    expect(abandonedStage(nothingSent, { ...hangup, tx: 0 })).to.equal(undefined);
    expect(silentFailureReason(nothingSent, { ...hangup, tx: 0 })).to.equal('no_audio_sent');
  });

  it('is not abandoned when the stream ended for another reason than the caller hanging up', () => {
    expect(abandonedStage({ ...started, holdClips: 1 }, { ...hangup, reason: 'gateway_shutdown' })).to.equal(undefined);
  });

  it('is not abandoned when the caller heard the model before (a call resumed on this bridge after another died)', () => {
    // This bridge's session never spoke and asked for no greeting (the conversation was resumed),
    // and it asked the gateway to hold while it set up; the gateway's stop says model audio went out.
    const resumed: CallStats = { ...started, connectedAt: 1500, configuredAt: 1600, holdClips: 1 };
    expect(abandonedStage(resumed, { ...hangup, firstAudioAt: 1200 })).to.equal(undefined);
    expect(silentFailureReason(resumed, { ...hangup, firstAudioAt: 1200 })).to.equal(undefined);
  });
});
