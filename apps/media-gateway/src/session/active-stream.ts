/** A stream accepted at START: the call it belongs to and its counts. */
import type { Logger } from '@voice/logging';
import { callKeys } from '@voice/redis';
import type { InboundWriter } from './inbound-writer.js';
import { PlayoutEstimate } from './playout-estimate.js';

export class ActiveStream {
  /** Caller media frames forwarded to the bridge. */
  rx = 0;
  /** Media messages sent to Twilio (model audio and clips), and the audio bytes in them. */
  tx = 0;
  txBytes = 0;
  /**
   * Epoch ms the first model audio went to the caller. Clips do not set it: it times
   * first_greeting_audio_ms, and a hold clip is not the agent answering.
   */
  firstAudioAt: number | undefined;
  readonly playout = new PlayoutEstimate();
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
