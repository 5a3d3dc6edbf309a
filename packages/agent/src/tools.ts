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

const TOOLS_BY_NAME: Record<string, RealtimeFunctionTool> = { [BOOK_APPOINTMENT_TOOL.name]: BOOK_APPOINTMENT_TOOL };

export function toolsFor(names: string[]): RealtimeFunctionTool[] {
  return names.map((n) => TOOLS_BY_NAME[n]).filter((t): t is RealtimeFunctionTool => t !== undefined);
}
