/** Helpers for the flat field arrays Redis streams carry (`[k1, v1, k2, v2, ...]`). */

export type RawStreamEntry = [id: string, fields: string[]];

export class InvalidStreamEntryError extends Error {
  override name = 'InvalidStreamEntryError';
  constructor(
    readonly entryId: string,
    problem: string,
  ) {
    super(`stream entry ${entryId}: ${problem}`);
  }
}

export function fieldsToRecord(fields: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!] = fields[i + 1]!;
  return out;
}

export function recordToFields(record: Record<string, string | number | boolean | undefined>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(record)) if (v !== undefined) out.push(k, String(v));
  return out;
}

export function requireField(id: string, record: Record<string, string>, name: string): string {
  const value = record[name];
  if (value === undefined) throw new InvalidStreamEntryError(id, `missing field "${name}"`);
  return value;
}

export function requireNumber(id: string, record: Record<string, string>, name: string): number {
  const value = Number(requireField(id, record, name));
  if (!Number.isFinite(value)) throw new InvalidStreamEntryError(id, `field "${name}" is not a number`);
  return value;
}

export function optionalNumber(record: Record<string, string>, name: string): number | undefined {
  const raw = record[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

export function optionalField(record: Record<string, string>, name: string): string | undefined {
  const raw = record[name];
  return raw === undefined || raw === '' ? undefined : raw;
}
