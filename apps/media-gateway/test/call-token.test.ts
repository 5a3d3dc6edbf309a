import { expect } from 'chai';
import { STREAM_PARAMETERS } from '@voice/protocols';
import { callKeys } from '@voice/redis';
import { useGatewayHarness } from './helpers/harness.js';
import type { GatewayHarness, TestCall } from './helpers/harness.js';

describe('media gateway: the one-time call token', () => {
  const gw = useGatewayHarness();
  let h: GatewayHarness;

  beforeEach(async () => {
    h = await gw.start();
  });

  async function refusedWith(call: TestCall, params: Record<string, string>): Promise<Record<string, string>> {
    const client = await h.connect(call.callSid);
    client.connected();
    client.start(params);
    const { code } = await client.closed;
    expect(code).to.equal(1008);
    const rejected = await h.waitForEvent(call.callSid, 'stream.rejected');
    return rejected.fields;
  }

  it('refuses a START without a token: no claim, nothing to the bridge, token left for the real stream', async () => {
    const call = await h.answeredCall();
    const fields = await refusedWith(call, {});
    expect(fields.reason).to.equal('missing_token');
    expect(await h.claims()).to.have.length(0);
    expect(h.inbound(call.callSid)).to.deep.equal([]);
    expect(await h.redis.get(callKeys.token(call.callSid))).to.equal(call.token);
    // Only the refusal is written: a replay's checkpoints do not land on the call.
    expect(await h.timelineEvents(call.callSid)).to.deep.equal(['stream.rejected']);
    expect(await h.metric('gateway_streams_rejected_total', { reason: 'missing_token' })).to.equal(1);
  });

  it('refuses a START with the wrong token', async () => {
    const call = await h.answeredCall();
    const fields = await refusedWith(call, { [STREAM_PARAMETERS.callToken]: 'guessed' });
    expect(fields.reason).to.equal('token_mismatch');
    expect(await h.claims()).to.have.length(0);
    expect(h.inbound(call.callSid)).to.deep.equal([]);
    // A forged START must not burn the real stream's token.
    expect(await h.redis.get(callKeys.token(call.callSid))).to.equal(call.token);
    const real = await h.startedStream(call);
    expect(real.isOpen).to.equal(true);
  });

  it('refuses a second START with a token already used (a replayed upgrade)', async () => {
    const call = await h.answeredCall();
    const first = await h.startedStream(call);
    expect(first.isOpen).to.equal(true);
    const fields = await refusedWith(call, { [STREAM_PARAMETERS.callToken]: call.token });
    expect(fields.reason).to.equal('token_unknown_or_used');
    expect(await h.claims()).to.have.length(1);
    const attaches = h.inbound(call.callSid).filter((r) => r.t === 'attach');
    expect(attaches).to.have.length(1);
    expect(attaches[0]).to.include({ streamSid: first.ids.streamSid });
    expect(first.isOpen).to.equal(true);
  });
});
