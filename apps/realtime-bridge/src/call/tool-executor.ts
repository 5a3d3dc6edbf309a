/**
 * Runs a function call the model made and returns the `output` string for the
 * function_call_output item. Every failure becomes an answer the model can use
 * with the caller ("that slot is taken"), never an exception.
 *
 * The call-control tools (end_call, transfer_call) only decide here: their
 * result carries a `control` that the call itself carries out once the
 * caller has heard the agent's last words (call/agent-control.ts).
 */
import type { AppointmentRepository, BookingFailureReason, BusinessRepository } from '@voice/db';
import { bookAppointmentArgs } from '@voice/agent';

export interface ToolContext {
  callSid: string;
  businessId: string;
  callerNumber?: string;
  /**
   * Epoch ms by which the model must have its answer (the caller is waiting in silence). A tool
   * that changes data must not change it after this: the model is told it was not done.
   */
  deadlineAt: number;
}

/** What the call must do after a call-control tool: hang up, transfer, or record a refused transfer. */
export type CallControlRequest =
  | { kind: 'end_call' }
  | { kind: 'transfer'; to: string }
  | { kind: 'transfer_refused'; reason: 'no_transfer_number' | 'business_not_found' };

export interface ToolResult {
  ok: boolean;
  output: string;
  /** Why it was not ok, for the timeline (slot_taken, timeout, ...). */
  reason?: string;
  control?: CallControlRequest;
}

/**
 * Tools the caller never hears the hold clip for: end_call decides at once, and the goodbye (said
 * with it or right after) must be the last thing the caller hears before the line closes. Every
 * other tool may make the caller wait (a booking, transfer_call's lookup of the business's number),
 * with the hold clip if it runs long (ToolTurns).
 */
export const TOOLS_WITHOUT_HOLD: ReadonlySet<string> = new Set(['end_call']);

export type ToolExecutor = (name: string, argsJson: string, ctx: ToolContext) => Promise<ToolResult>;

export function createToolExecutor(deps: {
  appointments: AppointmentRepository;
  businesses: BusinessRepository;
}): ToolExecutor {
  return async (name, argsJson, ctx) => {
    switch (name) {
      case 'book_appointment':
        return bookAppointment(deps.appointments, argsJson, ctx);
      case 'end_call':
        return {
          ...answer(true, {
            ending: true,
            instruction: 'say a short goodbye now if you have not; the line closes once it has been heard',
          }),
          control: { kind: 'end_call' },
        };
      case 'transfer_call':
        return transferCall(deps.businesses, ctx);
      default:
        return answer(false, { error: `unknown tool ${name}` }, 'unknown_tool');
    }
  };
}

/** The business's human line, read when the transfer is asked for (never stale). */
async function transferCall(businesses: BusinessRepository, ctx: ToolContext): Promise<ToolResult> {
  const business = await businesses.findById(ctx.businessId);
  const to = business?.transferNumber;
  if (!to) {
    const reason = business ? 'no_transfer_number' : 'business_not_found';
    const refused = answer(
      false,
      {
        transferred: false,
        error: 'nobody can take the call now; apologise, and offer to take a message or help yourself',
      },
      reason,
    );
    return { ...refused, control: { kind: 'transfer_refused', reason } };
  }
  return {
    ...answer(true, {
      transferring: true,
      instruction: 'tell the caller in one short sentence that you are transferring them now',
    }),
    control: { kind: 'transfer', to },
  };
}

async function bookAppointment(
  appointments: AppointmentRepository,
  argsJson: string,
  ctx: ToolContext,
): Promise<ToolResult> {
  let raw: unknown;
  try {
    raw = JSON.parse(argsJson);
  } catch {
    return answer(false, { error: 'arguments were not valid JSON; ask the caller again' }, 'bad_arguments');
  }
  const args = bookAppointmentArgs.safeParse(raw);
  if (!args.success) {
    const problems = args.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    return answer(false, { error: `invalid booking details (${problems}); ask the caller for them` }, 'bad_arguments');
  }
  const result = await appointments.book(
    {
      businessId: ctx.businessId,
      callSid: ctx.callSid,
      customerName: args.data.customer_name,
      customerPhone: args.data.customer_phone ?? ctx.callerNumber ?? null,
      startsAt: new Date(args.data.starts_at),
      durationMinutes: args.data.duration_minutes,
      notes: args.data.notes ?? null,
    },
    { deadlineAt: ctx.deadlineAt },
  );
  if (result.ok) {
    return answer(true, {
      booked: true,
      appointment_id: result.appointment.id,
      starts_at: result.appointment.startsAt.toISOString(),
    });
  }
  const advice = BOOKING_ADVICE[result.reason] ?? result.message;
  return answer(false, { booked: false, reason: result.reason, error: advice }, result.reason);
}

/** What the model is told to do with a booking that was not made (invalid: the repository's own message). */
const BOOKING_ADVICE: Partial<Record<BookingFailureReason, string>> = {
  slot_taken: 'that time is already booked; offer the caller another time',
  timeout:
    'the booking system did not answer in time and nothing was booked; tell the caller, and offer to try again or take a message',
};

function answer(ok: boolean, body: Record<string, unknown>, reason?: string): ToolResult {
  return reason === undefined ? { ok, output: JSON.stringify(body) } : { ok, output: JSON.stringify(body), reason };
}
