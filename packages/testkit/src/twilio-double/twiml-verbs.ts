/**
 * The TwiML verbs other than `<Connect>`, as the caller double runs them: what Twilio says or
 * plays is recorded (with the phase of the call it came in), a `<Dial>` or `<Hangup>` ends the
 * call, and what is not simulated is a warning, not a silent pass.
 */
import type { TwimlVerb } from './twiml.js';
import type { CallEndReason, SpokenByTwilio } from './types.js';

export type TwilioVerb = Exclude<TwimlVerb, { verb: 'Connect' }>;

/** Where a verb's effects are recorded (the call's public record). */
export interface VerbRecord {
  spokenByTwilio: SpokenByTwilio[];
  dialed: string[];
  warn(code: number | undefined, message: string): void;
  callMs(): number;
}

/** Runs one verb; returns why the call ends if it ends here. */
export function runTwilioVerb(
  verb: TwilioVerb,
  phase: SpokenByTwilio['phase'],
  record: VerbRecord,
): CallEndReason | undefined {
  switch (verb.verb) {
    case 'Say':
      record.spokenByTwilio.push({ verb: 'Say', text: verb.text, callMs: record.callMs(), phase });
      return undefined;
    case 'Play':
      record.spokenByTwilio.push({ verb: 'Play', text: verb.url, callMs: record.callMs(), phase });
      return undefined;
    case 'Pause':
      // Recorded, not waited: tests should not sleep through TwiML pauses.
      return undefined;
    case 'Hangup':
      return 'twiml-hangup';
    case 'Dial':
      record.dialed.push(verb.number);
      return 'dialed';
    case 'Redirect':
      record.warn(undefined, `<Redirect> to ${verb.url} recorded, not followed`);
      return 'redirect';
    case 'Unknown':
      record.warn(undefined, `<${verb.name}> is not simulated`);
      return undefined;
  }
}
