/**
 * The caller-facing connect deadline against the Realtime double set to hang
 * on the upgrade (TLS accepted, no answer): retries run inside the deadline,
 * an attempt never runs past it, and the failure says OPENAI_CONNECT_DEADLINE
 * with the attempts made. Time bounds are loose (a shared, loaded machine).
 */
import { expect } from 'chai';
import { RealtimeDouble } from '@voice/testkit';
import { ConnectDeadline } from '../src/call/connect-deadline.js';
import type { OpenAIConfig } from '../src/config.js';
import { connectRealtime, createOpenAIClient } from '../src/realtime/connect.js';
import { OpenAIConnectError } from '../src/realtime/errors.js';

const API_KEY = 'sk-connect-deadline-test';
/** Room for a loaded machine on top of the deadline; the point is "not attempts x timeout". */
const SLACK_MS = 1500;

describe('realtime bridge: the connect deadline', function () {
  this.timeout(20_000);
  let double: RealtimeDouble;

  before(async () => {
    double = new RealtimeDouble({ apiKey: API_KEY, behaviour: { hangUpgrade: true } });
    await double.start();
  });
  after(async () => {
    await double.stop();
  });

  function config(timeoutMs: number, attempts: number): OpenAIConfig {
    return {
      apiKey: API_KEY,
      baseURL: double.baseURL,
      model: 'gpt-realtime',
      ca: double.caCert,
      connectTimeoutMs: timeoutMs,
      connectAttempts: attempts,
      connectDeadlineMs: 0, // not read by connectRealtime: the deadline comes in through the signal
      retryBackoffMs: 50,
    };
  }

  async function connectUnder(deadlineMs: number, cfg: OpenAIConfig) {
    const deadline = new ConnectDeadline(deadlineMs);
    const attempts: number[] = [];
    const started = Date.now();
    deadline.arm(started);
    try {
      await connectRealtime(
        createOpenAIClient(cfg),
        cfg,
        { onAttempt: (n) => attempts.push(n), onAttemptFailed: () => undefined },
        deadline.signal,
      );
      throw new Error('connected to a double that hangs');
    } catch (err) {
      return { err, attempts, elapsedMs: Date.now() - started };
    } finally {
      deadline.disarm();
    }
  }

  it('retries inside the deadline and fails with OPENAI_CONNECT_DEADLINE when it passes', async () => {
    const { err, attempts, elapsedMs } = await connectUnder(1200, config(300, 10));
    expect(err).to.be.instanceOf(OpenAIConnectError);
    const error = err as OpenAIConnectError;
    expect(error.reason).to.equal('OPENAI_CONNECT_DEADLINE');
    expect(error.fatal).to.equal(false);
    expect(attempts.length, 'retried within the deadline').to.be.at.least(2);
    expect(attempts.length, 'stopped at the deadline, not after 10 attempts').to.be.below(10);
    expect(error.attempts).to.equal(attempts.length);
    expect(elapsedMs).to.be.at.least(1150);
    expect(elapsedMs).to.be.below(1200 + SLACK_MS);
  });

  it('cuts an attempt still running at the deadline (its own timeout is longer)', async () => {
    const { err, attempts, elapsedMs } = await connectUnder(800, config(8000, 3));
    expect((err as OpenAIConnectError).reason).to.equal('OPENAI_CONNECT_DEADLINE');
    expect((err as OpenAIConnectError).attempts).to.equal(1);
    expect(attempts).to.deep.equal([1]);
    expect(elapsedMs).to.be.below(800 + SLACK_MS);
  });

  it('without a deadline, a hanging attempt still ends at its own timeout (OPENAI_CONNECT_TIMEOUT)', async () => {
    const cfg = config(300, 2);
    const err = await connectRealtime(
      createOpenAIClient(cfg),
      cfg,
      { onAttempt: () => undefined, onAttemptFailed: () => undefined },
      new AbortController().signal,
    ).catch((e: unknown) => e);
    expect((err as OpenAIConnectError).reason).to.equal('OPENAI_CONNECT_TIMEOUT');
    expect((err as OpenAIConnectError).attempts).to.equal(2);
  });
});
