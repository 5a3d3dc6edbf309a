/**
 * Pre-rendered audio the gateway holds and plays without the model, so the
 * caller is never left in silence: a closed set, checked at build time.
 */
export const CLIP_NAMES = ['hold', 'fallback', 'busy'] as const;
export type ClipName = (typeof CLIP_NAMES)[number];

export function isClipName(value: unknown): value is ClipName {
  return typeof value === 'string' && (CLIP_NAMES as readonly string[]).includes(value);
}
