/** A stream accepted at START: the call it belongs to and its counts. */
import type { Logger } from '@voice/logging';
import { callKeys } from '@voice/redis';
import type { InboundWriter } from './inbound-writer.js';

export class ActiveStream {
  /** Caller media frames forwarded to the bridge. */
  rx = 0;
  /** Media messages sent to Twilio, and the audio bytes in them. */
  tx = 0;
  txBytes = 0;
  /** Epoch ms the first audio went to the caller. */
  firstAudioAt: number | undefined;
  readonly outKey: string;

  constructor(
    readonly callSid: string,
    readonly streamSid: string,
    /** Epoch ms START was read off the socket. */
    readonly startReceivedAt: number,
    readonly inbound: InboundWriter,
    readonly log: Logger,
  ) {
    this.outKey = callKeys.outbound(callSid);
  }
}
