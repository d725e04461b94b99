/**
 * A counting semaphore with a first-in, first-out queue: at most `limit` tasks run at once, and
 * callers get a slot in the order they asked. A freed slot is handed straight to the oldest waiter,
 * so a later caller can never overtake one that is already waiting.
 *
 * Tasks must not wait for another slot of the same semaphore while they hold one (nested use can
 * deadlock once every slot is held by a task waiting for another).
 */
export class Semaphore {
  private active = 0;
  private readonly waiters: Array<() => void> = [];

  /**
   * @param limit Tasks allowed at once: an integer ≥ 1, or `Infinity` for no limit.
   * @throws RangeError for any other value.
   */
  constructor(readonly limit: number) {
    if (!(limit === Infinity || (Number.isInteger(limit) && limit >= 1))) throw new RangeError('limit must be an integer of at least 1');
  }

  /** Tasks holding a slot now. */
  get running(): number {
    return this.active;
  }

  /** Callers queued for a slot. */
  get waiting(): number {
    return this.waiters.length;
  }

  /**
   * Runs `fn` once a slot is free and releases the slot when it settles, whether it resolves or
   * throws. If `signal` aborts while the caller is still queued, the caller leaves the queue and
   * this rejects with `signal.reason` without running `fn`; once `fn` has started, the signal is
   * `fn`'s business.
   */
  async run<T>(fn: () => Promise<T> | T, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private acquire(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    if (this.active < this.limit && this.waiters.length === 0) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal!.reason);
      };
      // The slot is passed on by `release`, already counted in `active`.
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(grant);
    });
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.active--;
  }
}
