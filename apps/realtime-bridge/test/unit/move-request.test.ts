/**
 * A shutting-down bridge asks the gateway to move a call (`rehome`); a key that
 * reaches it just after the ask was on the link before the gateway read it and
 * goes back with another `rehome`, a bounded number of times per ask. The
 * records cross a real media link; the test reads them at its gateway end.
 */
import { expect } from 'chai';
import { createLogger } from '@voice/logging';
import {
  MediaLinkServer,
  dialMediaLink,
  type BridgeRecord,
  type BridgeSideLink,
  type GatewaySideLink,
} from '@voice/media-link';
import { CallState } from '../../src/call/call-state.js';
import { GatewayChannel } from '../../src/call/gateway-channel.js';
import { MoveRequest } from '../../src/call/move-request.js';

const silent = createLogger({ service: 'test', instance: 'move-request', level: 'silent' });
const SECRET = 'move-request-test-secret-0123456789';
const TIMINGS = { retryMs: 1000, replyWaitMs: 4000 };

describe('bridge: asking the gateway to move a call, and keys that cross the ask', () => {
  let server: MediaLinkServer;
  let gatewaySide: GatewaySideLink;
  let bridgeSide: BridgeSideLink;
  let received: BridgeRecord[];

  beforeEach(async () => {
    let adopted: (link: BridgeSideLink) => void = () => {};
    const accepted = new Promise<BridgeSideLink>((resolve) => (adopted = resolve));
    server = new MediaLinkServer({
      instanceId: 'bridge-1',
      secret: SECRET,
      host: '127.0.0.1',
      port: 0,
      logger: silent,
      onLink: (link) => adopted(link),
    });
    await server.start();
    gatewaySide = await dialMediaLink({
      host: '127.0.0.1',
      port: server.port,
      instanceId: 'gateway-1',
      secret: SECRET,
      logger: silent,
    });
    bridgeSide = await accepted;
    received = [];
    gatewaySide.onRecord = (record) => received.push(record);
  });
  afterEach(async () => {
    gatewaySide.close('shutdown');
    await server.stop();
  });

  /** A live call attached on channel 7 of the link; `openEntry` is what the caller has typed here. */
  function liveCall(openEntry = '') {
    const state = new CallState();
    state.phase = 'live';
    const channel = new GatewayChannel(100, silent);
    channel.attach({ link: bridgeSide, ch: 7 });
    let entry = openEntry;
    const move = new MoveRequest({
      state,
      channel,
      isFallingBack: () => false,
      turnOpen: () => false,
      takeOpenEntry: () => {
        const keys = entry;
        entry = '';
        return keys;
      },
    });
    return move;
  }

  async function rehomes(count: number): Promise<(string | undefined)[]> {
    const deadline = Date.now() + 5000;
    while (received.filter((r) => r.t === 'rehome').length < count && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    return received.flatMap((r) => (r.t === 'rehome' && r.ch === 7 ? [r.keys] : []));
  }

  it('keeps keys that arrive before any ask (they are for this bridge)', () => {
    const move = liveCall();
    expect(move.giveBackKey('5')).to.equal(false);
  });

  it('gives keys that arrive just after the ask back, each with another rehome, at most four per ask', async () => {
    const move = liveCall('12');
    expect(move.askToMove(TIMINGS)).to.equal('asked');
    const given = ['3', '4', '5', '6', '7'].map((digit) => move.giveBackKey(digit));
    expect(given).to.deep.equal([true, true, true, true, false]);
    expect(await rehomes(5)).to.deep.equal(['12', '3', '4', '5', '6']);
  });

  it('keeps a key that arrives well after the ask (released to it by a move that did not happen)', async () => {
    const move = liveCall();
    expect(move.askToMove(TIMINGS)).to.equal('asked');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(move.giveBackKey('8')).to.equal(false);
    expect(await rehomes(1)).to.deep.equal([undefined]);
  });
});
