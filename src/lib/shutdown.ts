import type { Logger } from './logger.js';

type Closer = () => Promise<void> | void;

/**
 * A last-in-first-out stack of closers. Each start-up step pushes the closer of what it opened, right
 * after opening it, so the stop runs in the reverse order of the start: what was opened last (the
 * drain of live sessions, pushed once the service listens) closes first, what everything else uses
 * (the pool, the embedded servers) last. A start-up that fails half way runs the stack as built so
 * far, closing exactly what was opened.
 */
export class ShutdownStack {
  private readonly closers: Array<{ name: string; run: Closer }> = [];
  private running?: Promise<void>;

  constructor(private readonly logger: Logger) {}

  /** Pushes a closer; it runs before every closer pushed earlier. */
  push(name: string, run: Closer): void {
    if (this.running) throw new Error(`shutdown already started; ${name} pushed too late`);
    this.closers.push({ name, run });
  }

  get started(): boolean {
    return this.running !== undefined;
  }

  /**
   * Pops and runs every closer, newest first, each at most once, inside an overall deadline: a
   * closer that throws or outlives the deadline is logged and the next one runs. Later calls return
   * the same promise. Never rejects.
   */
  run(deadlineMs: number): Promise<void> {
    this.running ??= (async () => {
      const deadline = Date.now() + deadlineMs;
      for (let step = this.closers.pop(); step; step = this.closers.pop()) {
        const left = deadline - Date.now();
        this.logger.debug({ step: step.name }, 'shutdown_step');
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            Promise.resolve().then(step.run),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error('deadline')), Math.max(left, 1));
              timer.unref();
            }),
          ]);
        } catch (err) {
          this.logger.error({ err, step: step.name }, 'shutdown_step_failed');
        } finally {
          clearTimeout(timer);
        }
      }
    })();
    return this.running;
  }
}
