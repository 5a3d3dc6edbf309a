/**
 * What a bridge does with each entry of the claim stream (its consumer group
 * hands an entry to exactly one bridge with room):
 * - prebuilt: take the call (SET NX) and open a warm session while the phone rings;
 * - started: a gateway has the caller and no live owner: take the call (or
 *   take it over from the owner whose link that gateway lost), then tell that
 *   gateway, over their media link, whom to attach the call to.
 */
import type { Logger } from '@voice/logging';
import { decodeClaim, type ClaimEntry, type Timeline } from '@voice/redis';
import type { CallOwnership, ClaimOutcome } from './call-ownership.js';
import type { CallRegistry } from './call-registry.js';
import type { CallSession } from './call/call-session.js';
import type { BridgeConfig } from './config.js';
import type { GatewayLinks } from './link/gateway-links.js';
import type { BridgeMetrics } from './metrics.js';

export interface ClaimHandlerDeps {
  config: BridgeConfig;
  ownership: CallOwnership;
  calls: CallRegistry;
  links: GatewayLinks;
  timeline: Timeline;
  metrics: BridgeMetrics;
  logger: Logger;
  /** Builds, registers and runs a session for a call this bridge now owns. */
  startSession(claim: ClaimEntry, mode: 'warm' | 'cold', outcome: Extract<ClaimOutcome, { owned: true }>): CallSession;
}

export function createClaimHandler(deps: ClaimHandlerDeps): (id: string, fields: string[]) => Promise<void> {
  const { config, ownership, calls, links, logger } = deps;

  async function tellGateway(claim: ClaimEntry, owner: string): Promise<boolean> {
    const link = await links.linkTo(claim.gateway!, config.link.waitMs);
    if (!link) {
      logger.warn('no media link from the gateway holding the call', { callSid: claim.callSid, gateway: claim.gateway });
      return false;
    }
    return link.send({ t: 'owner', call: claim.callSid, owner });
  }

  async function onPrebuilt(claim: ClaimEntry, log: Logger): Promise<void> {
    if (!config.warmSessionsEnabled || calls.has(claim.callSid)) return;
    const age = Date.now() - claim.at;
    if (age > config.call.warmClaimMaxAgeMs) {
      log.info('skipping late warm claim', { ageMs: age });
      return;
    }
    // The one-time call token is spent at START: a call that started (or ended) without a warm
    // session gets its bridge through a started claim; a warm session now would only hold a slot.
    if (!(await ownership.stillRinging(claim.callSid))) {
      log.info('skipping warm claim: the call is no longer ringing');
      return;
    }
    const outcome = await ownership.claim(claim.callSid, { allowed: false });
    if (!outcome.owned) {
      log.info('call already owned by another bridge', { owner: outcome.owner, reason: claim.reason });
      return;
    }
    await record(claim, outcome, log);
    deps.startSession(claim, 'warm', outcome);
  }

  async function onStarted(claim: ClaimEntry, log: Logger): Promise<void> {
    const existing = calls.get(claim.callSid);
    if (existing && !existing.finished) {
      await tellGateway(claim, config.instanceId);
      return;
    }
    const outcome = await ownership.claim(claim.callSid, { allowed: true, previousOwner: claim.previousOwner });
    if (!outcome.owned) {
      log.info('call owned by another bridge; telling its gateway', { owner: outcome.owner });
      if (outcome.owner) await tellGateway(claim, outcome.owner);
      return;
    }
    const link = await links.linkTo(claim.gateway!, config.link.waitMs);
    if (!link) {
      log.warn('claimed a call but its gateway never linked; releasing it', { gateway: claim.gateway });
      await ownership.release(claim.callSid);
      return;
    }
    await record(claim, outcome, log);
    // Registered before the answer goes out: the gateway's attach finds the session.
    deps.startSession(claim, 'cold', outcome);
    link.send({ t: 'owner', call: claim.callSid, owner: config.instanceId });
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
    await serialized(claim.callSid, () => (claim.reason === 'prebuilt' ? onPrebuilt(claim, log) : onStarted(claim, log)));
  };
}
