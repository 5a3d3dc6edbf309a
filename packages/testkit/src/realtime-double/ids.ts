/** Ids shaped like the real API's: a type prefix and a random base62 tail. */
import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const ID_TAIL_LENGTH = 21;

export type IdPrefix = 'sess' | 'conv' | 'item' | 'resp' | 'call' | 'event';

export function newId(prefix: IdPrefix): string {
  const bytes = randomBytes(ID_TAIL_LENGTH);
  let tail = '';
  // Modulo bias is irrelevant for ids that only need to be unique.
  for (const b of bytes) tail += ALPHABET[b % ALPHABET.length];
  return `${prefix}_${tail}`;
}
