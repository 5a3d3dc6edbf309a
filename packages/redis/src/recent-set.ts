/**
 * A set that remembers at most `capacity` members and forgets the oldest first
 * (a JS Set iterates in insertion order, so the first member is the oldest).
 * For "have I already done X for this id?" caches that must not grow with uptime.
 */
export class RecentSet<T> {
  private readonly members = new Set<T>();

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`RecentSet capacity must be a positive integer, got ${capacity}`);
  }

  has(member: T): boolean {
    return this.members.has(member);
  }

  add(member: T): void {
    if (this.members.has(member)) return;
    this.members.add(member);
    if (this.members.size > this.capacity) {
      const oldest = this.members.values().next().value as T;
      this.members.delete(oldest);
    }
  }

  delete(member: T): void {
    this.members.delete(member);
  }

  get size(): number {
    return this.members.size;
  }
}
