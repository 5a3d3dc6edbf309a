/**
 * Runs a function call the model made and returns the `output` string for the
 * function_call_output item. Every failure becomes an answer the model can use
 * with the caller ("that slot is taken"), never an exception.
 */
import type { AppointmentRepository } from '@voice/db';
import { bookAppointmentArgs } from '@voice/agent';

export interface ToolContext {
  callSid: string;
  businessId: string;
  callerNumber?: string;
}

export interface ToolResult {
  ok: boolean;
  output: string;
}

export type ToolExecutor = (name: string, argsJson: string, ctx: ToolContext) => Promise<ToolResult>;

export function createToolExecutor(deps: { appointments: AppointmentRepository }): ToolExecutor {
  return async (name, argsJson, ctx) => {
    if (name !== 'book_appointment') return answer(false, { error: `unknown tool ${name}` });
    let raw: unknown;
    try {
      raw = JSON.parse(argsJson);
    } catch {
      return answer(false, { error: 'arguments were not valid JSON; ask the caller again' });
    }
    const args = bookAppointmentArgs.safeParse(raw);
    if (!args.success) {
      const problems = args.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      return answer(false, { error: `invalid booking details (${problems}); ask the caller for them` });
    }
    const result = await deps.appointments.book({
      businessId: ctx.businessId,
      callSid: ctx.callSid,
      customerName: args.data.customer_name,
      customerPhone: args.data.customer_phone ?? ctx.callerNumber ?? null,
      startsAt: new Date(args.data.starts_at),
      durationMinutes: args.data.duration_minutes,
      notes: args.data.notes ?? null,
    });
    if (result.ok) {
      return answer(true, {
        booked: true,
        appointment_id: result.appointment.id,
        starts_at: result.appointment.startsAt.toISOString(),
      });
    }
    const advice = result.reason === 'slot_taken' ? 'that time is already booked; offer the caller another time' : result.message;
    return answer(false, { booked: false, reason: result.reason, error: advice });
  };
}

function answer(ok: boolean, body: Record<string, unknown>): ToolResult {
  return { ok, output: JSON.stringify(body) };
}
