/**
 * Bad input on one socket: every occurrence is counted, the first of each kind
 * is logged and noted on the call's timeline (held until the call is known), so
 * a sender repeating the same mistake 50 times a second cannot flood either.
 */
import type { Logger } from '@voice/logging';
import type { GatewayMetrics, InvalidKind } from '../metrics.js';
import type { CallCheckpoints } from './call-checkpoints.js';

export class InvalidInput {
  private readonly seen = new Set<InvalidKind>();
  private total = 0;

  constructor(
    private readonly metrics: GatewayMetrics,
    private readonly checkpoints: CallCheckpoints,
    private readonly logger: () => Logger,
  ) {}

  get count(): number {
    return this.total;
  }

  report(kind: InvalidKind, detail?: string): void {
    this.total++;
    this.metrics.invalidMessages.labels({ kind }).inc();
    if (this.seen.has(kind)) return;
    this.seen.add(kind);
    // The timeline write logs the checkpoint; a socket with no call yet gets its own line now.
    if (this.checkpoints.boundCallSid === undefined) {
      this.logger().warn('invalid media stream input', { kind, detail });
    }
    this.checkpoints.record('input.invalid', { kind, detail }, 'warn');
  }
}
