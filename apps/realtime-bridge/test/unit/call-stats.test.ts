import { expect } from 'chai';
import { callMetrics } from '../../src/call/call-stats.js';

describe('bridge: call metrics breakdown', () => {
  it('derives openai_connect_ms, first_greeting_audio_ms and the stages from the timestamps', () => {
    const m = callMetrics(
      {
        claimedAt: 1000,
        streamStartedAt: 1010,
        connectStartedAt: 1020,
        connectedAt: 1320,
        connectAttempts: 1,
        promptStartedAt: 1020,
        promptReadyAt: 1025,
        configureSentAt: 1320,
        configuredAt: 1340,
        greetingRequestedAt: 1340,
        modelFirstAudioAt: 1740,
        promptPath: 'fast',
        greetingPath: 'cold',
        toolsCount: 0,
        bargeIns: 0,
        holdClips: 0,
      },
      1745,
    );
    expect(m).to.include({
      openai_connect_ms: 300,
      first_greeting_audio_ms: 735,
      wait_prompt_ms: 5,
      configure_ms: 20,
      model_first_audio_ms: 400,
      total_ms: 735,
      prompt_path: 'fast',
      greeting_path: 'cold',
    });
  });

  it('leaves out what did not happen instead of inventing zeros', () => {
    const m = callMetrics({ claimedAt: 1000, connectAttempts: 3, toolsCount: 0, bargeIns: 0, holdClips: 0 });
    expect(m.openai_connect_ms).to.equal(undefined);
    expect(m.first_greeting_audio_ms).to.equal(undefined);
    expect(m.connect_attempts).to.equal(3);
  });

  it('never reports negative durations (audio pre-generated before START)', () => {
    const m = callMetrics(
      {
        claimedAt: 1000,
        streamStartedAt: 2000,
        greetingRequestedAt: 1100,
        modelFirstAudioAt: 1500,
        connectAttempts: 1,
        toolsCount: 0,
        bargeIns: 0,
        holdClips: 0,
      },
      2004,
    );
    expect(m.first_greeting_audio_ms).to.equal(4);
    expect(m.model_first_audio_ms).to.equal(400);
  });
});
