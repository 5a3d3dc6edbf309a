/** The body of POST /calls, checked field by field so a 400 can name the field that is wrong. */
import { z } from 'zod';
import { E164_PATTERN } from '@voice/db';

const e164 = z.string({ message: 'is required' }).regex(E164_PATTERN, 'must be an E.164 number, e.g. +15551234567');

export const placeCallRequest = z
  .strictObject({
    /** The callee. */
    to: e164,
    /** One of the business's numbers: it names the business and is the caller ID. */
    from: e164.optional(),
    /** Instead of `from`: the business, which then calls from its first number. */
    businessId: z.string({ message: 'must be a string' }).min(1, 'must not be empty').optional(),
  })
  .superRefine((body, ctx) => {
    if (body.from === undefined && body.businessId === undefined)
      ctx.addIssue({ code: 'custom', path: ['from'], message: 'is required (or give businessId)' });
    if (body.from !== undefined && body.businessId !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['businessId'],
        message: 'cannot be given with from (from names the business)',
      });
  });

export type PlaceCallRequest = z.infer<typeof placeCallRequest>;

export interface FieldProblem {
  field: string;
  message: string;
}

/** The first problem, as `{field, message}`: what a person fixing the request needs. */
export function firstProblem(error: z.ZodError): FieldProblem {
  const issue = error.issues[0];
  if (issue?.code === 'unrecognized_keys') {
    const field = issue.keys[0] ?? 'body';
    return { field, message: `${field} is not a field of this request (expected to, and from or businessId)` };
  }
  const field = issue?.path.join('.') || 'body';
  if (field === 'body')
    return {
      field,
      message: 'body must be a JSON object {"to": "+E164", "from": "+E164"} (Content-Type: application/json)',
    };
  return { field, message: `${field} ${issue?.message ?? 'is invalid'}` };
}
