/**
 * A socket's timeline checkpoints. Before START the socket usually does not know
 * its CallSid, so checkpoints are held in memory with the time they happened and
 * written once the call is known; a socket that never becomes a call writes none.
 * Writes for one call are chained so the timeline reads in the order things
 * happened, whatever the Redis pipelining does.
 */
import type { Logger } from '@voice/logging';
import type { Timeline, TimelineEventName, TimelineFields } from '@voice/redis';

type Level = 'info' | 'warn' | 'error';

interface Checkpoint {
  event: TimelineEventName;
  fields: TimelineFields;
  ts: number;
  level: Level;
}

export class CallCheckpoints {
  private callSid: string | undefined;
  private logger: Logger;
  private buffered: Checkpoint[] = [];
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly timeline: Timeline,
    logger: Logger,
    /** Lets shutdown wait for writes issued after the socket closed. */
    private readonly track: (write: Promise<unknown>) => void,
  ) {
    this.logger = logger;
  }

  get boundCallSid(): string | undefined {
    return this.callSid;
  }

  record(event: TimelineEventName, fields: TimelineFields = {}, level: Level = 'info'): void {
    const checkpoint = { event, fields, ts: Date.now(), level };
    if (this.callSid === undefined) this.buffered.push(checkpoint);
    else this.write(this.callSid, checkpoint);
  }

  /** The call is known: write what was held, in order, and write directly from now on. */
  bind(callSid: string, logger: Logger): void {
    if (this.callSid !== undefined) {
      // Bound earlier from the URL path; START only adds the streamSid to the logger.
      if (this.callSid === callSid) this.logger = logger;
      return;
    }
    this.callSid = callSid;
    this.logger = logger;
    const held = this.buffered;
    this.buffered = [];
    for (const checkpoint of held) this.write(callSid, checkpoint);
  }

  /** The socket will never be bound to a call (e.g. START refused): forget what was held. */
  discard(): void {
    this.buffered = [];
  }

  /** Resolves when every write issued so far has landed (or failed and been logged). */
  settled(): Promise<void> {
    return this.chain;
  }

  private write(callSid: string, c: Checkpoint): void {
    const logger = this.logger;
    // Timeline.record logs and swallows its own failures, so the chain never rejects.
    this.chain = this.chain.then(() =>
      this.timeline.record(callSid, c.event, c.fields, { ts: c.ts, level: c.level, logger }),
    );
    this.track(this.chain);
  }
}
