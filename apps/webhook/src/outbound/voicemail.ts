/**
 * What the answering machine detection result means for the call.
 *
 * The voicemail is left by Twilio, not by the model: on `machine_end_*` the
 * live call is redirected through the REST API to `<Say>message</Say><Hangup/>`.
 * Why: the redirect ends the media stream at once, so the agent stops talking to
 * the machine whatever it was doing (no race with a response in flight); the
 * message is said word for word, every time (a model asked to read it may
 * paraphrase or answer the machine's greeting); it needs no new channel from
 * this service to the bridge that owns the call; and the hangup follows the
 * message in the same TwiML, not on a timer. The price: Twilio's TTS voice
 * (VOICEMAIL_SAY_VOICE), not the agent's. Measured in test/e2e/outbound-calls.test.ts
 * (ms from the AMD callback to the message starting, as the callee double hears it).
 */
import twilio from 'twilio';

/** Twilio's AnsweredBy values (asynchronous AMD). */
export const ANSWERED_BY = [
  'human',
  'unknown',
  'machine_start',
  'machine_end_beep',
  'machine_end_silence',
  'machine_end_other',
  'fax',
] as const;
export type AnsweredBy = (typeof ANSWERED_BY)[number];

/**
 * converse: a person (or AMD could not tell): the conversation goes on.
 * wait: a machine whose greeting has not ended (only with MachineDetection=Enable; we ask for DetectMessageEnd).
 * voicemail: the machine's greeting ended: leave the message, hang up.
 * hangup: a fax, or a machine and the business has no message.
 */
export type AmdAction = 'converse' | 'wait' | 'voicemail' | 'hangup';

export function amdAction(answeredBy: AnsweredBy, voicemailMessage: string | null): AmdAction {
  switch (answeredBy) {
    case 'human':
    case 'unknown':
      return 'converse';
    case 'machine_start':
      return 'wait';
    case 'machine_end_beep':
    case 'machine_end_silence':
    case 'machine_end_other':
      return voicemailMessage ? 'voicemail' : 'hangup';
    case 'fax':
      return 'hangup';
  }
}

type SayAttributes = Exclude<Parameters<InstanceType<typeof twilio.twiml.VoiceResponse>['say']>[0], string>;

export function voicemailTwiml(message: string, voice: string | undefined): string {
  const response = new twilio.twiml.VoiceResponse();
  response.say(voice ? { voice: voice as SayAttributes['voice'] } : {}, message);
  response.hangup();
  return response.toString();
}
