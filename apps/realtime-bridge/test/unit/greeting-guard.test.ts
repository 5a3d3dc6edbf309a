import { expect } from 'chai';
import type { RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import { GREETING_FAILED, GreetingGuard, type GreetingFailure } from '../../src/call/greeting-guard.js';

function guarded() {
  const asked: RealtimeClientEvent[] = [];
  const failures: GreetingFailure[] = [];
  const gaveUp: string[] = [];
  const guard = new GreetingGuard({
    ask: (event) => asked.push(event),
    onFailure: (failure) => failures.push(failure),
    giveUp: (reason) => gaveUp.push(reason),
  });
  const lastEventId = () => (asked[asked.length - 1] as { event_id?: string }).event_id;
  return { guard, asked, failures, gaveUp, lastEventId };
}

describe('GreetingGuard', () => {
  it('asks again when the model refuses the greeting, then gives up on the second refusal', () => {
    const g = guarded();
    g.guard.request();
    expect(g.guard.onError('server_error', g.lastEventId())).to.equal(true);
    expect(g.asked).to.have.length(2);
    expect(g.gaveUp).to.deep.equal([]);
    expect(g.guard.onError('server_error', g.lastEventId())).to.equal(true);
    expect(g.failures.map((f) => [f.attempt, f.status, f.retrying])).to.deep.equal([
      [1, 'refused', true],
      [2, 'refused', false],
    ]);
    expect(g.gaveUp).to.deep.equal([GREETING_FAILED]);
    expect(g.asked).to.have.length(2);
  });

  it('leaves errors about other requests alone', () => {
    const g = guarded();
    g.guard.request();
    expect(g.guard.onError('server_error', 'dtmf_response_1')).to.equal(false);
    expect(g.guard.onError('server_error', null)).to.equal(false);
    expect(g.failures).to.deep.equal([]);
  });

  it('a response already running (the caller spoke first) is not a failure', () => {
    const g = guarded();
    g.guard.request();
    expect(g.guard.onError('conversation_already_has_active_response', g.lastEventId())).to.equal(true);
    g.guard.onDone('failed', 'server_error', false);
    expect(g.failures).to.deep.equal([]);
    expect(g.gaveUp).to.deep.equal([]);
  });

  it('a greeting that ended without a sound is asked for again; one that was heard or cut off is settled', () => {
    const failed = guarded();
    failed.guard.request();
    failed.guard.onCreated();
    failed.guard.onDone('failed', 'server_error', false);
    expect(failed.failures).to.deep.equal([{ attempt: 1, status: 'failed', code: 'server_error', retrying: true }]);
    expect(failed.asked).to.have.length(2);

    for (const [status, heard] of [
      ['completed', false],
      ['cancelled', false],
      ['incomplete', true],
    ] as const) {
      const g = guarded();
      g.guard.request();
      g.guard.onDone(status, '', heard);
      g.guard.onDone('failed', 'server_error', false);
      expect(g.failures, status).to.deep.equal([]);
    }
  });

  it('a refusal that comes after the response began is not the greeting’s', () => {
    const g = guarded();
    g.guard.request();
    const id = g.lastEventId();
    g.guard.onCreated();
    expect(g.guard.onError('server_error', id)).to.equal(false);
  });
});
