import type { Logger } from '../lib/logger.js';
import type { TranscriptionEngine } from './port.js';

/** The settings the engine choice depends on (a subset of the app's Config). */
export interface EngineConfig {
  TRANSCRIBE_ENGINE: 'local' | 'aws';
  /** What Transcribe gets of Opus input (TRANSCRIBE_AUDIO); `pcm` when unset here (the config's default is `opus`). */
  TRANSCRIBE_AUDIO?: 'pcm' | 'opus' | undefined;
  AWS_REGION: string;
  /** Where Transcribe Medical streaming runs; AWS_REGION when unset. */
  AWS_TRANSCRIBE_REGION?: string | undefined;
  /** Offline engine worker threads (default: one per core). */
  LOCAL_ENGINE_WORKERS?: number | undefined;
  /** Most streams the offline engine decodes at once (default: five per worker). */
  LOCAL_ENGINE_MAX_STREAMS?: number | undefined;
  /** Directory with an alternative `en-us.lm.bin` + `cmudict-en-us.dict` for the offline engine. */
  LOCAL_LM_DIR?: string | undefined;
  /** Window over which repeats of one warning are collapsed into a count. */
  LOG_REPEAT_WINDOW_MS?: number | undefined;
}

/** The offline engine as a fallback stops its workers after this long without a stream. */
export const FALLBACK_IDLE_STOP_MS = 5 * 60_000;

/**
 * Builds the configured engine; its module (and for `aws` the SDK) is imported only here. As the
 * `fallback`, the offline engine starts its workers (and loads its model) on the first stream and
 * stops them after {@link FALLBACK_IDLE_STOP_MS} without one; as the primary it starts them now.
 * Throws `LocalEngineSetupError` naming the `apt-get install` line when the offline engine's
 * Debian packages are missing, in either role.
 */
export async function createEngine(config: EngineConfig, logger: Logger, role: 'primary' | 'fallback' = 'primary'): Promise<TranscriptionEngine> {
  if (config.TRANSCRIBE_ENGINE === 'aws') {
    const { createAwsTranscribeMedicalEngine } = await import('./providers/aws-transcribe-medical/index.js');
    return createAwsTranscribeMedicalEngine({ region: config.AWS_TRANSCRIBE_REGION ?? config.AWS_REGION, audio: config.TRANSCRIBE_AUDIO ?? 'pcm' }, logger);
  }
  const { createLocalEngine } = await import('./providers/local/index.js');
  return createLocalEngine(
    {
      ...(config.LOCAL_ENGINE_WORKERS ? { workers: config.LOCAL_ENGINE_WORKERS } : {}),
      ...(config.LOCAL_ENGINE_MAX_STREAMS ? { maxStreams: config.LOCAL_ENGINE_MAX_STREAMS } : {}),
      ...(config.LOCAL_LM_DIR ? { lmDir: config.LOCAL_LM_DIR } : {}),
      ...(config.LOG_REPEAT_WINDOW_MS ? { repeatWindowMs: config.LOG_REPEAT_WINDOW_MS } : {}),
      ...(role === 'fallback' ? { startWorkers: 'on-first-stream' as const, idleStopMs: FALLBACK_IDLE_STOP_MS } : {}),
    },
    logger,
  );
}
