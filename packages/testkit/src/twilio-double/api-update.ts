/**
 * A REST API update of a live call (`POST …/Calls/{CA}.json`), read the way Twilio reads it:
 * `Status=completed` hangs up; `Twiml` replaces what the call runs next; anything else is not
 * simulated. TwiML that does not parse is refused and the live call goes on.
 */
import { TWILIO_ERROR } from './constants.js';
import { parseTwiml } from './twiml.js';
import type { TwimlVerb } from './twiml.js';

export type ApiUpdateRequest =
  | { kind: 'hangup' }
  | { kind: 'redirect'; twiml: string; verbs: TwimlVerb[] }
  | { kind: 'refused'; code: number | undefined; message: string };

export function readApiUpdate(params: Record<string, string>): ApiUpdateRequest {
  if (params.Status === 'completed') return { kind: 'hangup' };
  if (params.Twiml !== undefined) {
    try {
      return { kind: 'redirect', twiml: params.Twiml, verbs: parseTwiml(params.Twiml) };
    } catch (err) {
      // Twilio refuses such an update (the live call goes on); the app's request is what is wrong.
      return {
        kind: 'refused',
        code: TWILIO_ERROR.documentParseFailure,
        message: `call update with bad TwiML: ${(err as Error).message}`,
      };
    }
  }
  return {
    kind: 'refused',
    code: undefined,
    message: `call update without Status=completed or Twiml is not simulated (${Object.keys(params).join(',')})`,
  };
}
