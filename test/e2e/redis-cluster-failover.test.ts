/**
 * A Redis Cluster master dies (SIGKILL, a crashed machine) in the middle of two
 * calls. Call A's keys live on that master; call B's on another one; the
 * namespace's shared keys (claims, queues, bridge registry) on the third.
 * The master's replica takes over; call B must not notice: it hears its
 * greeting and the reply and ends normally, finalized on its timeline. A new
 * call placed after the promotion, whose keys land on the promoted replica,
 * is greeted. Assertions wait for outcomes (waitFor, call.done), never for time.
 *
 * Runs only under `npm run test:cluster`, which starts the cluster and passes
 * REDIS_CLUSTER_NODES and TEST_REDIS_CLUSTER_CONTROL (nodes, pids, roles); it
 * runs this file last because it leaves one master without a replica.
 */
import { expect } from 'chai';
import { createCallRepository, uniqueCallSid } from '@voice/db';
import { callKeys, sharedKeys } from '@voice/redis';
import { waitFor, type TwilioCallerDouble } from '@voice/testkit';
import { CLUSTER_CONTROL_ENV, killClusterNode, parseClusterControl } from '../../scripts/lib/redis-cluster.js';
import {
  addressOf,
  masterForKey,
  replicaOf,
  waitForPromotion,
  type NodeAddress,
} from '../../scripts/lib/redis-cluster-probe.js';
import { createTestBusiness } from '../support/business.js';
import { eventNames, finishedTimeline, findEvent, useE2EContext } from '../support/e2e-context.js';
import { reportFigure } from '../support/figures.js';

const control = parseClusterControl(process.env[CLUSTER_CONTROL_ENV]);
const runnable = Boolean(process.env.REDIS_CLUSTER_NODES) && control !== undefined;

const REPLY = 'Sure. Which day works for you?';
/** Long enough for the greeting, then one sentence, then long enough for the reply to play out. */
const CALLER_SCRIPT = [{ silenceMs: 5000 }, { say: 'I need a cleaning please.' }, { silenceMs: 6000 }];
const NEW_CALL_SCRIPT = [{ silenceMs: 4000 }];
/** CallSids hash to 3 masters at random: a suitable one turns up in a handful of tries. */
const MAX_CALLSID_TRIES = 200;
const GREETED_TIMEOUT_MS = 20_000;
const CALL_DONE_TIMEOUT_MS = 60_000;

(runnable ? describe : describe.skip)(
  'e2e: a Redis Cluster master fails over mid-call (npm run test:cluster)',
  function () {
    this.timeout(180_000);
    const ctx = useE2EContext();
    // The body runs (to register the test) even when skipped, so control may be undefined here.
    const allNodes: NodeAddress[] = control?.nodes.map(({ host, port }) => ({ host, port })) ?? [];

    /** A fresh CallSid whose keys the given master serves (probed with CLUSTER KEYSLOT + CLUSTER SLOTS). */
    async function callSidServedBy(
      nodes: readonly NodeAddress[],
      accept: (master: string) => boolean,
    ): Promise<string> {
      for (let i = 0; i < MAX_CALLSID_TRIES; i++) {
        const callSid = uniqueCallSid();
        if (accept(addressOf(await masterForKey(nodes, callKeys.timeline(callSid))))) return callSid;
      }
      throw new Error(`none of ${MAX_CALLSID_TRIES} random CallSids hashed to a suitable master`);
    }

    const greeted = (call: TwilioCallerDouble) => call.firstAudioAtMs !== undefined && call.heardAudibleMs() > 0;

    it('keeps a call on another master going, and greets a new call on the promoted replica', async () => {
      const { knex, redis } = ctx;
      const stack = await ctx.start({ gateways: 1, bridges: 2, realtime: { replies: [REPLY] } });
      const namespaceMaster = addressOf(await masterForKey(allNodes, sharedKeys(stack.namespace).callClaims));
      const callSidA = await callSidServedBy(allNodes, (m) => m !== namespaceMaster);
      const masterA = await masterForKey(allNodes, callKeys.timeline(callSidA));
      const callSidB = await callSidServedBy(allNodes, (m) => m !== namespaceMaster && m !== addressOf(masterA));
      const replicaA = await replicaOf(allNodes, masterA);

      const businessA = await createTestBusiness(knex, { greeting: 'Hello, you reached line A.' });
      const businessB = await createTestBusiness(knex, { greeting: 'Hi, this is line B.' });
      const callA = stack.call(businessA.phoneNumber, {
        callSid: callSidA,
        script: CALLER_SCRIPT,
        hangupWhenScriptEnds: true,
      });
      const callB = stack.call(businessB.phoneNumber, {
        callSid: callSidB,
        script: CALLER_SCRIPT,
        hangupWhenScriptEnds: true,
      });
      await waitFor(() => greeted(callA) && greeted(callB), {
        timeoutMs: GREETED_TIMEOUT_MS,
        message: 'both callers hear their greeting',
      });

      // Mid-call (both greeted, neither has spoken yet): the master holding call A's keys dies.
      const killedAt = Date.now();
      await killClusterNode(control!, masterA.port);
      const liveNodes = allNodes.filter((n) => n.port !== masterA.port);
      await waitForPromotion(liveNodes, replicaA);
      reportFigure('redis cluster: master killed -> replica promoted, cluster ok', Date.now() - killedAt);

      // Call B: greeting, the caller's sentence, the reply, a normal end, finalized.
      const summaryB = await withTimeout(callB.done, CALL_DONE_TIMEOUT_MS, 'call B to end');
      expect(summaryB.endedBy, 'call B ended by the caller at the end of its script').to.equal('caller');
      const sessionB = stack.realtime.sessions.find((s) => s.responses.some((r) => r.text === 'Hi, this is line B.'));
      expect(sessionB, "call B's model session").not.to.equal(undefined);
      const audioB = sessionB!.responses.filter((r) => r.kind === 'audio');
      expect(audioB.map((r) => r.text)).to.deep.equal(['Hi, this is line B.', REPLY]);
      expect(audioB[1]!.status, 'the reply played to its end').to.equal('completed');
      const replyMarksPlayed = callB.marks.filter(
        (m) => m.name.startsWith(`${audioB[1]!.itemId}|`) && m.played === true,
      );
      expect(replyMarksPlayed.length, 'call B heard the reply').to.be.greaterThan(0);
      const timelineB = await finishedTimeline(redis, callSidB);
      const eventsB = eventNames(timelineB);
      expect(eventsB).to.include.members([
        'greeting.first_audio',
        'caller.speech_started',
        'call.ended',
        'call.metrics',
      ]);
      expect(eventsB).not.to.include('call.silent_failure');
      expect(
        eventsB.filter((e) => e === 'realtime.fallback'),
        'no fallback for call B',
      ).to.deep.equal([]);
      expect(findEvent(timelineB, 'call.metrics')?.fields.first_greeting_audio_ms).to.be.a('string');
      expect((await createCallRepository(knex).findByCallSid(callSidB))?.status).to.equal('completed');

      // Call A lost its master mid-call: whatever it heard, it ends and leaves no model session open.
      await withTimeout(callA.done, CALL_DONE_TIMEOUT_MS, 'call A to end');

      // A new call whose keys the promoted replica now serves is greeted.
      const callSidC = await callSidServedBy(liveNodes, (m) => m === addressOf(replicaA));
      const businessC = await createTestBusiness(knex, { greeting: 'Welcome to line C.' });
      const callC = stack.call(businessC.phoneNumber, {
        callSid: callSidC,
        script: NEW_CALL_SCRIPT,
        hangupWhenScriptEnds: true,
      });
      const summaryC = await withTimeout(callC.done, CALL_DONE_TIMEOUT_MS, 'call C to end');
      expect(summaryC.firstAudioAtMs, 'call C heard its greeting').to.be.a('number');
      expect(summaryC.heardAudibleMs).to.be.greaterThan(0);
      const sessionC = stack.realtime.sessions.find((s) => s.responses.some((r) => r.text === 'Welcome to line C.'));
      expect(sessionC, "call C's model session greeted it").not.to.equal(undefined);
      const timelineC = await finishedTimeline(redis, callSidC);
      expect(eventNames(timelineC)).to.include.members(['greeting.first_audio', 'call.ended', 'call.metrics']);

      await waitFor(() => stack.realtime.openSessionCount === 0, {
        timeoutMs: CALL_DONE_TIMEOUT_MS,
        message: 'every model session closed',
      });
    });
  },
);

/** call.done has no deadline of its own; a hung call must fail the test with a name, not time it out. */
async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
