/**
 * The producer/consumer buffer behind every engine's async iteration: the adapter pushes results,
 * closes or fails it; one consumer iterates. `settled` implements the port's `end()` contract: it
 * resolves once the consumer has been told "done" (so every result was yielded and handled), or at
 * once after close when nobody ever iterated.
 */
export class ResultQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  private state: 'open' | 'closed' | 'failed' | 'aborted' = 'open';
  private error: unknown;
  private iterated = false;
  private finished = false;
  private finishError: unknown;
  private readonly finishCallbacks: Array<(err?: unknown) => void> = [];

  /** True once close/fail/abort was called. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  push(item: T): void {
    if (this.state !== 'open') return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: item, done: false });
    } else this.items.push(item);
  }

  /** No more results: iteration ends after the buffered ones. */
  close(): void {
    if (this.state !== 'open') return;
    this.state = 'closed';
    this.wake();
  }

  /** Iteration throws `err` after the buffered results. */
  fail(err: unknown): void {
    if (this.state !== 'open') return;
    this.state = 'failed';
    this.error = err;
    this.wake();
  }

  /** Drops buffered results; iteration ends now. */
  abort(): void {
    if (this.state === 'aborted') return;
    const wasOpen = this.state === 'open';
    this.state = 'aborted';
    this.items.length = 0;
    if (wasOpen || !this.finished) this.wake();
  }

  /**
   * Resolves when the consumer has seen the end (or immediately after close when nobody iterates);
   * rejects with the failure if the queue failed. Never rejects for abort.
   */
  settled(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.finishCallbacks.push((err) => (err === undefined ? resolve() : reject(err)));
      this.maybeFinish();
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    this.iterated = true;
    return {
      next: () => {
        const item = this.items.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
        if (this.state === 'open') {
          return new Promise((resolve, reject) => {
            this.waiter = { resolve, reject };
          });
        }
        return this.finish();
      },
      return: () => {
        // The consumer stopped early (break/throw): nothing more will be read.
        this.abort();
        this.finishNow();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  private finish(): Promise<IteratorResult<T>> {
    this.finishNow();
    if (this.state === 'failed') {
      const err = this.error;
      // Reported once through iteration; later next() calls just end.
      this.state = 'closed';
      return Promise.reject(err);
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  private finishNow(): void {
    if (this.finished) return;
    this.finished = true;
    this.finishError = this.state === 'failed' ? this.error : undefined;
    for (const cb of this.finishCallbacks.splice(0)) cb(this.finishError);
  }

  private maybeFinish(): void {
    if (this.finished) {
      for (const cb of this.finishCallbacks.splice(0)) cb(this.finishError);
      return;
    }
    if (this.state === 'aborted') this.finishNow();
    else if (!this.iterated && this.state !== 'open') {
      // Nobody is iterating (yet): settle waiters now, but a consumer that comes later still gets everything.
      const err = this.state === 'failed' ? this.error : undefined;
      for (const cb of this.finishCallbacks.splice(0)) cb(err);
    }
  }

  private wake(): void {
    if (this.waiter && this.items.length === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      void this.finish().then(w.resolve, w.reject);
    }
    this.maybeFinish();
  }
}
