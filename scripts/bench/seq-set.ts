/** Which sequence numbers of one stream arrived, and how often (saturating at 255). */
const INITIAL_CAPACITY = 2048;
const MAX_COUNT = 255;

export class SeqSet {
  private counts = new Uint8Array(INITIAL_CAPACITY);
  /** Highest sequence number seen so far (-1: none). */
  maxSeq = -1;

  /** Records one arrival; returns how many times `seq` had arrived before. */
  add(seq: number): number {
    if (seq >= this.counts.length) this.grow(seq);
    const before = this.counts[seq]!;
    if (before < MAX_COUNT) this.counts[seq] = before + 1;
    if (seq > this.maxSeq) this.maxSeq = seq;
    return before;
  }

  has(seq: number): boolean {
    return seq < this.counts.length && this.counts[seq]! > 0;
  }

  /** How many of `from..to` (inclusive) never arrived. */
  missingIn(from: number, to: number): number {
    let missing = 0;
    for (let seq = from; seq <= to; seq++) if (!this.has(seq)) missing++;
    return missing;
  }

  private grow(seq: number): void {
    let size = this.counts.length;
    while (size <= seq) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.counts);
    this.counts = next;
  }
}
