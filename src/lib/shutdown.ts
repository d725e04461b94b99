import type { Logger } from './logger.js';

/**
 * Runs shutdown steps in order (stop admitting → finish live sessions → close io/http → close the
 * pool and embedded servers), each at most once, inside an overall deadline.
 */
export class Shutdown {
  private steps: Array<{ name: string; run: () => Promise<void> | void }> = [];
  private running?: Promise<void>;

  constructor(private readonly logger: Logger) {}

  /** Adds a step; steps run in the order added. */
  add(name: string, run: () => Promise<void> | void): void {
    this.steps.push({ name, run });
  }

  get started(): boolean {
    return this.running !== undefined;
  }

  /** Runs every step once; later calls return the same promise. Never rejects. */
  run(deadlineMs: number): Promise<void> {
    this.running ??= (async () => {
      const deadline = Date.now() + deadlineMs;
      for (const step of this.steps) {
        const left = deadline - Date.now();
        this.logger.debug({ step: step.name }, 'shutdown_step');
        try {
          await Promise.race([
            Promise.resolve(step.run()),
            new Promise((_, reject) => setTimeout(() => reject(new Error('deadline')), Math.max(left, 1)).unref()),
          ]);
        } catch (err) {
          this.logger.error({ err, step: step.name }, 'shutdown_step_failed');
        }
      }
    })();
    return this.running;
  }
}
