/**
 * Wall time during which at least one tracked operation is in flight. Overlapping operations
 * (the matcher may wait on the accrual and the payment cursor at once) are counted once.
 */
export class PhaseClock {
  private active = 0;
  private since = 0;
  private total = 0;

  begin(): void {
    if (this.active++ === 0) this.since = performance.now();
  }

  end(): void {
    if (--this.active === 0) this.total += performance.now() - this.since;
  }

  /** Runs `operation`, counting its duration (until its promise settles). */
  async time<T>(operation: () => Promise<T>): Promise<T> {
    this.begin();
    try {
      return await operation();
    } finally {
      this.end();
    }
  }

  get ms(): number {
    return this.total;
  }
}
