import type { DictationObserver, SessionObserver } from '../dictation/observer.js';
import type { CounterName, MetricsHooks } from '../lib/metrics-hooks.js';
import type { ServiceMetrics } from './metrics.js';
import { SessionMeter } from './session-meter.js';

/**
 * The live sessions' observer port (dictation/observer.ts) implemented with this service's metrics:
 * counters go to `counters` (the in-process `Counters`, which tells the Prometheus registry), each
 * session gets a {@link SessionMeter} on `metrics`. The one object the domain reports through.
 */
export class MetricsObserver implements DictationObserver {
  constructor(
    private readonly counters: MetricsHooks,
    private readonly metrics?: ServiceMetrics,
  ) {}

  inc(name: CounterName, labels?: Record<string, string>, value?: number): void {
    this.counters.inc(name, labels, value);
  }

  sessionStarted(): SessionObserver {
    return new SessionMeter(this.metrics);
  }
}
