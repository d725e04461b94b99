/**
 * Collects the final segments of every live session of this process for `windowMs` (or until
 * `maxRows` are waiting) and stores them with one statement (segment-repo.ts), instead of one
 * INSERT and one commit per final. Each caller's promise settles with its own row's outcome once
 * the statement holding it has committed, so "stored before it is shown" (session-results.ts)
 * holds as with a single insert. Flushes never overlap: rows that arrive while one is in flight go
 * in the next.
 *
 * A failed statement is tried again row by row at once: one row the database refuses (a value it
 * cannot store) fails only its own caller, which retries as it did after a failed single insert,
 * and the rows it shared the batch with are stored. When the database itself is away every row
 * fails and each caller retries on its own schedule.
 *
 * Not one class with ProgressBatcher: that one keeps only the latest value per session and
 * re-queues a failed write for the next interval with no one waiting; here every row has a caller
 * waiting on its outcome.
 */
export class SegmentBatcher<Row, Outcome> {
  private pending: Array<{ row: Row; resolve: (o: Outcome) => void; reject: (err: unknown) => void }> = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  /** @param write stores the rows in one statement and returns each row's outcome, in order. */
  constructor(
    private readonly write: (rows: Row[]) => Promise<Outcome[]>,
    private readonly o: { windowMs: number; maxRows: number },
  ) {}

  /** Resolves with the row's outcome once its batch is committed; rejects with the error when it could not be stored. */
  add(row: Row): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      if (this.pending.length >= this.o.maxRows) void this.flush();
      else this.timer ??= setTimeout(() => void this.flush(), this.o.windowMs);
    });
  }

  /** Writes what is waiting now; resolves when every row of it is settled. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.flushing) await this.flushing;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.flushing = this.writeBatch(batch).finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  private async writeBatch(batch: typeof this.pending): Promise<void> {
    try {
      const outcomes = await this.write(batch.map((p) => p.row));
      batch.forEach((p, i) => p.resolve(outcomes[i]!));
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      await Promise.all(
        batch.map((p) =>
          this.write([p.row]).then(
            ([o]) => p.resolve(o!),
            (e: unknown) => p.reject(e),
          ),
        ),
      );
    }
  }
}
