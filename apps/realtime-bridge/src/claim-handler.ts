/**
 * What a bridge does with each entry of the claim stream (its consumer group
 * hands an entry to exactly one bridge with room):
 * - prebuilt: take the call (SET NX) and open a warm session while the phone rings;
 * - started: a gateway has the caller and no live owner: take the call (or
 *   take it over from the owner whose link that gateway lost), then tell that
 *   gateway, over their media link, whom to attach the call to.
 */
import type { Logger } from '@voice/logging';
import {
  CLAIM_STREAM_MAXLEN,
  decodeClaim,
  encodeClaim,
  sharedKeys,
  type ClaimEntry,
  type RedisClient,
  type Timeline,
} from '@voice/redis';
import type { CallOwnership, ClaimOutcome } from './call-ownership.js';
import type { CallRegistry } from './call-registry.js';
import type { CallSession } from './call/call-session.js';
import type { BridgeConfig } from './config.js';
import type { GatewayLinks } from './link/gateway-links.js';
import type { BridgeMetrics } from './metrics.js';

export interface ClaimHandlerDeps {
  config: BridgeConfig;
  redis: RedisClient;
  ownership: CallOwnership;
  calls: CallRegistry;
  links: GatewayLinks;
  timeline: Timeline;
  metrics: BridgeMetrics;
  logger: Logger;
  /** The call is about to count in this bridge's load (its outbound room reservation goes with that report). */
  callTaken(callSid: string): void;
  /** Builds, registers and runs a session for a call this bridge now owns. */
  startSession(claim: ClaimEntry, mode: 'warm' | 'cold', outcome: Extract<ClaimOutcome, { owned: true }>): CallSession;
}

export function createClaimHandler(deps: ClaimHandlerDeps): (id: string, fields: string[]) => Promise<void> {
  const { config, ownership, calls, links, logger } = deps;

  const claimStream = sharedKeys(config.namespace).callClaims;

  async function tellGateway(claim: ClaimEntry, owner: string): Promise<boolean> {
    const link = await links.linkTo(claim.gateway!, config.link.waitMs);
    if (!link) {
      logger.warn('no media link from the gateway holding the call', {
        callSid: claim.callSid,
        gateway: claim.gateway,
      });
      return false;
    }
    return link.send({ t: 'owner', call: claim.callSid, owner });
  }

  /**
   * This bridge cannot answer the gateway (it has no link from it yet: one of them just
   * started). Rather than take the call and keep the caller waiting for a link, the claim goes
   * back on the stream for a bridge that can; the gateway only claims when it has a link to
   * some bridge with room.
   */
  async function passOn(claim: ClaimEntry, log: Logger): Promise<void> {
    log.info('no media link from the claiming gateway yet; passing the claim on', { gateway: claim.gateway });
    deps.metrics.claimsPassedOn.inc();
    await deps.redis.xadd(claimStream, 'MAXLEN', '~', String(CLAIM_STREAM_MAXLEN), '*', ...encodeClaim(claim));
  }

  async function onPrebuilt(claim: ClaimEntry, log: Logger): Promise<void> {
    if (!config.warmSessionsEnabled || calls.has(claim.callSid)) return;
    const age = Date.now() - claim.at;
    if (age > config.call.warmClaimMaxAgeMs) {
      log.info('skipping late warm claim', { ageMs: age });
      return;
    }
    // A call that already ended (no bridge had room, or it never started) would only hold a slot.
    if (!(await ownership.notOver(claim.callSid))) {
      log.info('skipping warm claim: the call is already over');
      return;
    }
    const outcome = await ownership.claim(claim.callSid, { allowed: false });
    if (!outcome.owned) {
      log.info('call already owned by another bridge', { owner: outcome.owner, reason: claim.reason });
      return;
    }
    // Registered at once: a START that reads the owner key now must find the session here.
    deps.callTaken(claim.callSid);
    deps.startSession(claim, 'warm', outcome);
    await record(claim, outcome, log);
  }

  async function onStarted(claim: ClaimEntry, log: Logger): Promise<void> {
    const age = Date.now() - claim.at;
    if (age > config.call.claimTimeoutMs) {
      // The gateway gave up waiting and played the busy message: taking the call now would only hold a slot.
      log.info('skipping a started claim its gateway stopped waiting for', { ageMs: age });
      return;
    }
    const existing = calls.get(claim.callSid);
    if (existing && !existing.finished) {
      await tellGateway(claim, config.instanceId);
      return;
    }
    const link = links.current(claim.gateway!);
    if (!link) return passOn(claim, log);
    const outcome = await ownership.claim(claim.callSid, { allowed: true, previousOwner: claim.previousOwner });
    if (!outcome.owned) {
      // A warm owner that the gateway did not know of yet (its claim raced START): attach there.
      log.info('call owned by another bridge; telling its gateway', { owner: outcome.owner });
      if (outcome.owner) link.send({ t: 'owner', call: claim.callSid, owner: outcome.owner });
      return;
    }
    // Registered before the answer goes out: the gateway's attach finds the session.
    deps.callTaken(claim.callSid);
    deps.startSession(claim, 'cold', outcome);
    link.send({ t: 'owner', call: claim.callSid, owner: config.instanceId });
    await record(claim, outcome, log);
  }

  function record(claim: ClaimEntry, outcome: Extract<ClaimOutcome, { owned: true }>, log: Logger): Promise<void> {
    return deps.timeline.record(
      claim.callSid,
      'bridge.claimed',
      { claim_ms: Date.now() - claim.at, reason: claim.reason, takeover_from: outcome.takeoverFrom },
      { logger: log, level: outcome.takeoverFrom ? 'warn' : 'info' },
    );
  }

  /**
   * Claims for one call are handled one after the other: a call's prebuilt and started claims
   * can arrive in one read, and both must not see "owned by this bridge, no session yet".
   */
  const inFlight = new Map<string, Promise<void>>();
  function serialized(callSid: string, work: () => Promise<void>): Promise<void> {
    const run = (inFlight.get(callSid) ?? Promise.resolve()).then(work);
    const settled = run.catch(() => undefined);
    inFlight.set(callSid, settled);
    void settled.then(() => {
      if (inFlight.get(callSid) === settled) inFlight.delete(callSid);
    });
    return run;
  }

  return async (id, fields) => {
    let claim: ClaimEntry;
    try {
      claim = decodeClaim(id, fields);
    } catch (err) {
      // It will never become valid: log and let it be acked instead of retrying it.
      deps.metrics.invalidEntries.inc();
      logger.warn('skipping invalid claim entry', { id, error: (err as Error).message });
      return;
    }
    const log = logger.child({ callSid: claim.callSid });
    if (Date.now() - claim.at > config.call.claimMaxAgeMs) {
      log.warn('skipping stale claim', { ageMs: Date.now() - claim.at });
      return;
    }
    await serialized(claim.callSid, () =>
      claim.reason === 'prebuilt' ? onPrebuilt(claim, log) : onStarted(claim, log),
    );
  };
}
