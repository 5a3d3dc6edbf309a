/**
 * Timeline entries written while Redis could not be reached, kept in memory
 * until it is back. Bounded: past `capacity` the oldest entry is dropped and
 * counted against its call, so the flush can say how many went missing
 * (`timeline.lost`) instead of leaving a silent hole in the timeline.
 */
export interface BufferedEntry {
  callSid: string;
  /** The XADD field list, with the entry's original `ts`. */
  fields: string[];
}

export class OutageBuffer {
  private entries: BufferedEntry[] = [];
  private readonly lost = new Map<string, number>();

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`OutageBuffer capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.entries.length;
  }

  /** Nothing kept and nothing lost: the timeline is whole. */
  get empty(): boolean {
    return this.entries.length === 0 && this.lost.size === 0;
  }

  push(entry: BufferedEntry): void {
    this.entries.push(entry);
    if (this.entries.length <= this.capacity) return;
    const dropped = this.entries.shift()!;
    this.lost.set(dropped.callSid, (this.lost.get(dropped.callSid) ?? 0) + 1);
  }

  /** The oldest entry, left in place until written (a failed flush keeps it). */
  peek(): BufferedEntry | undefined {
    return this.entries[0];
  }

  shift(): void {
    this.entries.shift();
  }

  /** Per call, how many entries were dropped; forgotten once taken. */
  takeLost(): Array<[string, number]> {
    const lost = [...this.lost];
    this.lost.clear();
    return lost;
  }

  /** Puts back lost counts whose report could not be written. */
  restoreLost(callSid: string, count: number): void {
    this.lost.set(callSid, (this.lost.get(callSid) ?? 0) + count);
  }
}
