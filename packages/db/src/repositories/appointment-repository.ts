/**
 * Appointments the agent books during a call. A double booking is refused by
 * the database's unique (business_id, starts_at) constraint, so two calls racing
 * for one slot get exactly one winner; the loser gets a result, not an exception,
 * because "that slot is taken" is something the agent says to the caller.
 * A booking made while a caller waits has a deadline the database itself keeps
 * (see BookingOptions): "it could not be booked in time" is an answer too, and
 * a true one, never a booking that lands after the caller was told otherwise.
 */
import type { Knex } from 'knex';
import { z } from 'zod';
import { isUuid } from '../domain.js';
import {
  hasPgCode,
  PG_CHECK_VIOLATION,
  PG_FOREIGN_KEY_VIOLATION,
  PG_INVALID_TEXT_REPRESENTATION,
  PG_NOT_NULL_VIOLATION,
  PG_QUERY_CANCELED,
  PG_UNIQUE_VIOLATION,
} from '../pg-errors.js';

const APPOINTMENTS = 'appointments';
/** Named in migration 0003; the only unique constraint a booking can hit. */
const SLOT_CONSTRAINT = 'appointments_business_slot_unique';
/** Longer than a working day is a misheard number, not an appointment. */
export const MAX_APPOINTMENT_MINUTES = 8 * 60;

export interface Appointment {
  id: string;
  businessId: string;
  callSid: string | null;
  customerName: string;
  customerPhone: string | null;
  startsAt: Date;
  durationMinutes: number;
  notes: string | null;
  createdAt: Date;
}

export interface AppointmentRequest {
  businessId: string;
  callSid?: string | null;
  customerName: string;
  customerPhone?: string | null;
  startsAt: Date;
  durationMinutes: number;
  notes?: string | null;
}

/** timeout: the database did not book it before the deadline, and it is not booked. */
export type BookingFailureReason = 'slot_taken' | 'invalid' | 'timeout';

export interface BookingOptions {
  /**
   * Epoch ms after which the booking must not be made (the caller is told it could not be). The
   * insert runs in a transaction whose statement_timeout ends at the deadline, so Postgres
   * cancels and rolls back an insert still waiting then (a lock, an overloaded server) even if
   * this process can no longer reach it; a booking whose deadline passed before it got a
   * connection is not tried.
   */
  deadlineAt?: number;
}

export type BookingResult =
  { ok: true; appointment: Appointment } | { ok: false; reason: BookingFailureReason; message: string };

export interface AppointmentRepository {
  book(request: AppointmentRequest, options?: BookingOptions): Promise<BookingResult>;
  /** Every appointment of the business, earliest first. */
  listForBusiness(businessId: string): Promise<Appointment[]>;
}

export interface AppointmentRepositoryOptions {
  /** The clock that decides what "in the past" means (tests pin it). */
  now?: () => Date;
}

const requestSchema = z.object({
  businessId: z.string().refine(isUuid, 'businessId is not a uuid'),
  callSid: z.string().min(1).nullable().default(null),
  customerName: z.string().trim().min(1, 'customerName is empty'),
  customerPhone: z.string().trim().min(1).nullable().default(null),
  startsAt: z.date('startsAt is not a valid date'),
  durationMinutes: z
    .number()
    .int('durationMinutes must be whole minutes')
    .positive('durationMinutes must be positive')
    .max(MAX_APPOINTMENT_MINUTES, `durationMinutes is over ${MAX_APPOINTMENT_MINUTES}`),
  notes: z.string().nullable().default(null),
});

const appointmentRow = z.object({
  id: z.string(),
  business_id: z.string(),
  call_sid: z.string().nullable(),
  customer_name: z.string(),
  customer_phone: z.string().nullable(),
  starts_at: z.date(),
  duration_minutes: z.number().int(),
  notes: z.string().nullable(),
  created_at: z.date(),
});

function toAppointment(raw: unknown): Appointment {
  const row = appointmentRow.parse(raw);
  return {
    id: row.id,
    businessId: row.business_id,
    callSid: row.call_sid,
    customerName: row.customer_name,
    customerPhone: row.customer_phone,
    startsAt: row.starts_at,
    durationMinutes: row.duration_minutes,
    notes: row.notes,
    createdAt: row.created_at,
  };
}

/** The booking's deadline passed before its insert could start. */
class DeadlinePassed extends Error {}

export function createAppointmentRepository(
  knex: Knex,
  opts: AppointmentRepositoryOptions = {},
): AppointmentRepository {
  const now = opts.now ?? (() => new Date());

  return {
    async book(request, options = {}) {
      const parsed = requestSchema.safeParse(request);
      if (!parsed.success) {
        const message = parsed.error.issues.map((issue) => issue.message).join('; ');
        return { ok: false, reason: 'invalid', message };
      }
      const booking = parsed.data;
      if (booking.startsAt.getTime() < now().getTime()) {
        return { ok: false, reason: 'invalid', message: 'startsAt is in the past' };
      }

      const insert = (db: Knex | Knex.Transaction): Promise<unknown[]> =>
        db(APPOINTMENTS)
          .insert({
            business_id: booking.businessId,
            call_sid: booking.callSid,
            customer_name: booking.customerName,
            customer_phone: booking.customerPhone,
            starts_at: booking.startsAt,
            duration_minutes: booking.durationMinutes,
            notes: booking.notes,
          })
          .returning('*');
      const { deadlineAt } = options;
      try {
        const [row] = deadlineAt === undefined ? await insert(knex) : await beforeDeadline(knex, deadlineAt, insert);
        return { ok: true, appointment: toAppointment(row) };
      } catch (error) {
        if (error instanceof DeadlinePassed || hasPgCode(error, PG_QUERY_CANCELED)) {
          return { ok: false, reason: 'timeout', message: 'the database did not answer before the deadline' };
        }
        if (hasPgCode(error, PG_UNIQUE_VIOLATION) && error.constraint === SLOT_CONSTRAINT) {
          return {
            ok: false,
            reason: 'slot_taken',
            message: `the slot at ${booking.startsAt.toISOString()} is already booked`,
          };
        }
        if (hasPgCode(error, PG_FOREIGN_KEY_VIOLATION)) {
          return { ok: false, reason: 'invalid', message: `no business with id ${booking.businessId}` };
        }
        if (hasPgCode(error, PG_CHECK_VIOLATION, PG_NOT_NULL_VIOLATION, PG_INVALID_TEXT_REPRESENTATION)) {
          return { ok: false, reason: 'invalid', message: error.message };
        }
        // Anything else (database down, no pooled connection in time) is an outage, not a booking answer.
        throw error;
      }
    },

    async listForBusiness(businessId) {
      if (!isUuid(businessId)) return [];
      const rows: unknown[] = await knex(APPOINTMENTS).where({ business_id: businessId }).orderBy('starts_at', 'asc');
      return rows.map(toAppointment);
    },
  };
}

/** Runs `work` in a transaction that Postgres cancels (and rolls back) at `deadlineAt`. */
async function beforeDeadline<T>(
  knex: Knex,
  deadlineAt: number,
  work: (trx: Knex.Transaction) => Promise<T>,
): Promise<T> {
  if (deadlineAt <= Date.now()) throw new DeadlinePassed();
  return knex.transaction(async (trx) => {
    // Checked again once a pooled connection is ours: waiting for one may have used it all.
    const remainingMs = Math.floor(deadlineAt - Date.now());
    if (remainingMs <= 0) throw new DeadlinePassed();
    // SET takes no bind parameters; remainingMs is an integer computed here.
    await trx.raw(`SET LOCAL statement_timeout = ${remainingMs}`);
    return work(trx);
  });
}
