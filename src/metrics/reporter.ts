import type { Logger } from '../lib/logger.js';
import type { ServiceMetrics } from './metrics.js';

/**
 * Logs `{"msg":"service_metrics","liveSessions","chunkAckP99Ms","captionLatencyP95Ms","engineErrors"}`
 * every `intervalMs` (the CloudWatch metric filters in infra/src/monitoring.ts read these fields).
 * Returns a stop function.
 */
export function startMetricsReporter(metrics: ServiceMetrics, logger: Logger, intervalMs = 60_000): () => void {
  const timer = setInterval(() => logger.info(metrics.takeSummary(), 'service_metrics'), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
