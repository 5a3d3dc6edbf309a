/**
 * The bridge's way to the caller: one call's channel on the media link to the
 * gateway that holds the Twilio socket. Before that gateway attaches (a warm
 * session greeting while the phone rings), records are held here in order and
 * go out the moment it attaches, so the pre-generated greeting reaches the
 * caller within a link round trip of START. The hold is bounded.
 */
import type { Logger } from '@voice/logging';
import type { BridgeRecord, BridgeSideLink, ToCallerRecord } from '@voice/media-link';
import { preciseNow } from '@voice/redis';

/** A record for this call's caller, before the channel number is known. */
export type CallerRecord = ToCallerRecord;

export interface Attachment {
  link: BridgeSideLink;
  ch: number;
}

export class GatewayChannel {
  private attachment: Attachment | undefined;
  private held: CallerRecord[] = [];
  private closed = false;
  private heldDropped = 0;
  /** Media records sent toward the caller (the bridge's own tx count, for a call whose gateway vanished). */
  mediaSent = 0;
  /** Epoch ms the first model audio went out on a link (a call re-attached through another gateway keeps its first stream's). */
  firstMediaSentAt: number | undefined;

  constructor(
    private readonly maxHeld: number,
    private readonly logger: Logger,
  ) {}

  get attached(): Attachment | undefined {
    return this.attachment;
  }

  /** The gateway attached the call: what was held goes first, in order. */
  attach(attachment: Attachment): number {
    this.attachment = attachment;
    const held = this.held;
    this.held = [];
    for (const record of held) this.deliver(attachment, record);
    if (this.heldDropped > 0)
      this.logger.warn('caller audio dropped while no gateway was attached', { dropped: this.heldDropped });
    this.heldDropped = 0;
    return held.length;
  }

  /** The gateway's link went away: hold again until another gateway attaches. */
  detach(): void {
    this.attachment = undefined;
  }

  send(record: CallerRecord): void {
    if (this.closed) return;
    if (this.attachment) {
      this.deliver(this.attachment, record);
      return;
    }
    if (this.held.length < this.maxHeld) this.held.push(record);
    else this.heldDropped++;
  }

  /** Model audio with its marks (start-of-item before it, end-of-delta after it), as one record. */
  sendAgentAudio(payload: string, marks: string[], greeting: boolean): void {
    const markBefore = marks.length === 2 ? marks[0] : undefined;
    this.send({ t: 'media', payload, at: preciseNow(), greeting, markBefore, markAfter: marks[marks.length - 1] });
  }

  /** After the call ended nothing more goes to the caller. */
  close(): void {
    this.closed = true;
    this.held = [];
  }

  private deliver({ link, ch }: Attachment, record: CallerRecord): void {
    if (link.send({ ...record, ch } as BridgeRecord) && record.t === 'media') {
      this.mediaSent++;
      this.firstMediaSentAt ??= Date.now();
    }
  }
}
