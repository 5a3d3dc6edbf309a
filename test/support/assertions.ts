import { expect } from 'chai';

/** `expected` appears in `actual` in this order (other entries may sit between). */
export function expectSubsequence(actual: string[], expected: string[]): void {
  let at = 0;
  for (const item of expected) {
    const found = actual.indexOf(item, at);
    expect(found, `"${item}" after position ${at} in [${actual.join(', ')}]`).to.be.greaterThan(-1);
    at = found + 1;
  }
}
