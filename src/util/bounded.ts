/**
 * Bounded collections for long-running processes: a node runs for weeks, so anything it remembers
 * per event (execution ids, latency samples) keeps only the most recent N entries.
 */

/** A set that forgets its oldest members beyond `capacity` (insertion order). */
export class BoundedSet<T> {
  private readonly items = new Set<T>();
  /**
   * A live iterator at the oldest member: everything before it was evicted, a member deleted and
   * added again comes after it. Asking a fresh iterator each time would walk the holes that
   * deletions leave at the front of the table (quadratic once the set is full).
   */
  private readonly oldest = this.items.values();
  constructor(private readonly capacity: number) {}

  has(v: T): boolean {
    return this.items.has(v);
  }

  add(v: T): void {
    if (this.items.has(v)) return;
    this.items.add(v);
    if (this.items.size > this.capacity) this.items.delete(this.oldest.next().value as T);
  }

  delete(v: T): boolean {
    return this.items.delete(v);
  }

  get size(): number {
    return this.items.size;
  }
}

/** The last `capacity` numbers pushed (a ring), for percentiles over a recent window. */
export class RecentSamples {
  private readonly buf: number[] = [];
  private next = 0;
  /** Samples ever pushed (the window holds at most `capacity` of them). */
  count = 0;
  /** The newest sample (NaN before the first). */
  latest = Number.NaN;
  constructor(private readonly capacity: number) {}

  push(v: number): void {
    this.latest = v;
    if (this.buf.length < this.capacity) this.buf.push(v);
    else this.buf[this.next] = v;
    this.next = (this.next + 1) % this.capacity;
    this.count++;
  }

  values(): number[] {
    return [...this.buf];
  }

  /** p50 / p99 of the samples in the window, and how many samples were ever pushed. */
  percentiles(): { p50: number; p99: number; n: number } {
    const sorted = [...this.buf].sort((a, b) => a - b);
    const q = (p: number): number => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : 0);
    return { p50: q(0.5), p99: q(0.99), n: this.count };
  }
}

/** A map that forgets its oldest keys beyond `capacity` (insertion order). */
export class BoundedMap<K, V> {
  private readonly items = new Map<K, V>();
  /** A live iterator at the oldest key (see BoundedSet). */
  private readonly oldest = this.items.keys();
  constructor(private readonly capacity: number) {}

  get(k: K): V | undefined {
    return this.items.get(k);
  }

  set(k: K, v: V): void {
    this.items.set(k, v);
    if (this.items.size > this.capacity) this.items.delete(this.oldest.next().value as K);
  }
}
