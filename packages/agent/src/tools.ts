/**
 * Tools the agent may call, as Realtime `session.tools` definitions plus the
 * schema their arguments are checked against before anything touches the database.
 */
import { z } from 'zod';

export interface RealtimeFunctionTool {
  type: 'function';
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export const bookAppointmentArgs = z.object({
  customer_name: z.string().min(1),
  customer_phone: z.string().optional(),
  starts_at: z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'must be an ISO 8601 date-time'),
  duration_minutes: z.number().int().min(5).max(240).default(30),
  notes: z.string().optional(),
});

export type BookAppointmentArgs = z.infer<typeof bookAppointmentArgs>;

export const BOOK_APPOINTMENT_TOOL: RealtimeFunctionTool = {
  type: 'function',
  name: 'book_appointment',
  description: 'Book an appointment for the caller at a specific date and time.',
  parameters: {
    type: 'object',
    properties: {
      customer_name: { type: 'string', description: "The caller's full name" },
      customer_phone: { type: 'string', description: 'A callback number, E.164' },
      starts_at: { type: 'string', description: 'Start time, ISO 8601 with offset' },
      duration_minutes: { type: 'integer', description: 'Length in minutes (default 30)' },
      notes: { type: 'string', description: 'Reason for the visit' },
    },
    required: ['customer_name', 'starts_at'],
  },
};

/** The agent ends the call: it says goodbye, and the line is hung up once the caller has heard it. */
export const END_CALL_TOOL: RealtimeFunctionTool = {
  type: 'function',
  name: 'end_call',
  description: 'End the phone call. Use it when the conversation is over; say a short goodbye as you call it.',
  parameters: {
    type: 'object',
    properties: { reason: { type: 'string', description: 'Why the call ends, in a few words' } },
    required: [],
  },
};

/** The agent hands the caller to the business's human line (refused when the business has none). */
export const TRANSFER_CALL_TOOL: RealtimeFunctionTool = {
  type: 'function',
  name: 'transfer_call',
  description: 'Transfer the caller to a person at the business, when they ask for one or you cannot help.',
  parameters: {
    type: 'object',
    properties: { reason: { type: 'string', description: 'Why the caller needs a person, in a few words' } },
    required: [],
  },
};

export const agentControlArgs = z.object({ reason: z.string().optional() });

/** Tool names the model sees (CONTRACT: stable). */
export type AgentToolName = 'book_appointment' | 'end_call' | 'transfer_call';

const TOOLS_BY_NAME: Record<AgentToolName, RealtimeFunctionTool> = {
  book_appointment: BOOK_APPOINTMENT_TOOL,
  end_call: END_CALL_TOOL,
  transfer_call: TRANSFER_CALL_TOOL,
};

export function isAgentToolName(name: string): name is AgentToolName {
  return Object.hasOwn(TOOLS_BY_NAME, name);
}

export function toolsFor(names: string[]): RealtimeFunctionTool[] {
  return names.filter(isAgentToolName).map((n) => TOOLS_BY_NAME[n]);
}
