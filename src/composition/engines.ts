import type { Config } from '../config.js';
import type { Logger } from '../lib/logger.js';
import type { MetricsHooks } from '../lib/metrics-hooks.js';
import type { ShutdownStack } from '../lib/shutdown.js';
import { createTranscribeVocabularies } from '../transcription/providers/aws-transcribe-medical/vocabularies.js';
import { createEngine } from '../transcription/factory.js';
import { shareByUser } from '../transcription/fair-share.js';
import type { TranscriptionEngine } from '../transcription/port.js';
import { createResilientEngine, type ResilienceOptions } from '../transcription/resilient-stream.js';
import { VocabularyRepository } from '../vocabulary/repo.js';
import { VocabularyService, withVocabulary } from '../vocabulary/service.js';
import type { Infra } from './infra.js';

export interface Engines {
  /** The configured engine itself (repairs use it: a repair never falls back). */
  primary: TranscriptionEngine;
  /** What live sessions use: retry, reconnect, failover and each specialty's vocabulary around the engines. */
  engine: TranscriptionEngine;
  vocabularyRepo: VocabularyRepository;
  vocabularies: VocabularyService;
}

export interface EngineOverrides {
  /** A ready engine (tests use the scripted fake); otherwise built from TRANSCRIBE_ENGINE. */
  engine?: TranscriptionEngine;
  /** The engine sessions fail over to (tests); otherwise built from TRANSCRIBE_FALLBACK. */
  fallbackEngine?: TranscriptionEngine;
  /** Engine retry/failover settings beyond the config (tests). */
  resilience?: Partial<ResilienceOptions>;
  /** Custom vocabularies: how often Transcribe's state is polled and stream starts re-read them (tests shorten both). */
  vocabulary?: { pollMs?: number; cacheMs?: number };
}

/** Step 2: the transcription engines (primary, fallback) and the vocabularies they are given. */
export async function buildEngines(
  config: Config,
  logger: Logger,
  shutdown: ShutdownStack,
  infra: Infra,
  counters: MetricsHooks,
  overrides: EngineOverrides,
): Promise<Engines> {
  const primary = overrides.engine ?? (await createEngine({ ...config, LOCAL_ENGINE_WORKERS: config.LOCAL_ENGINE_WORKERS || undefined }, logger));
  shutdown.push('close_engine', () => primary.close());
  let fallback = overrides.fallbackEngine;
  if (!fallback && !overrides.engine && config.fallbackEngine === 'local') {
    // No worker threads or model in memory until a session fails over (most tasks never do).
    fallback = await createEngine({ ...config, TRANSCRIBE_ENGINE: 'local', LOCAL_ENGINE_WORKERS: config.LOCAL_ENGINE_WORKERS || undefined }, logger, 'fallback');
  }
  if (fallback) {
    const f = fallback;
    shutdown.push('close_fallback_engine', () => f.close());
  }
  // Each specialty's custom vocabulary (issue 16): Transcribe gets its VocabularyName once READY,
  // the offline engine the terms in its decoder's dictionary.
  const vocabularyRepo = new VocabularyRepository(infra.db);
  const vocabularies = new VocabularyService({
    repo: vocabularyRepo,
    logger,
    ...overrides.vocabulary,
    ...(config.TRANSCRIBE_ENGINE === 'aws'
      ? {
          transcribe: {
            publisher: createTranscribeVocabularies({ region: config.AWS_TRANSCRIBE_REGION }, logger),
            store: infra.store,
            namePrefix: config.TRANSCRIBE_VOCABULARY_PREFIX,
            // Transcribe reads the table file itself, from a bucket in its own region.
            ...(infra.embeddedS3
              ? { unusable: 'The embedded store cannot be read by Transcribe; set S3_BUCKET.' }
              : config.AWS_TRANSCRIBE_REGION !== config.AWS_REGION
                ? { unusable: `Transcribe (${config.AWS_TRANSCRIBE_REGION}) reads vocabulary files only from a bucket in its own region; the recordings bucket is in ${config.AWS_REGION}.` }
                : {}),
          },
        }
      : {}),
  });
  shutdown.push('close_vocabularies', () => vocabularies.close());
  // Retry, reconnect, offsets and failover live in this one wrapper around any engine. Each engine's
  // streams are shared out per user; the wrapper gives a silent session's stream back (idle release).
  const engine = withVocabulary(
    createResilientEngine(
      shareByUser(primary, config.MAX_ENGINE_STREAMS_PER_USER),
      fallback && shareByUser(fallback, config.MAX_ENGINE_STREAMS_PER_USER),
      {
        maxRetries: config.ENGINE_MAX_RETRIES,
        backoffBaseMs: config.ENGINE_BACKOFF_BASE_MS,
        backoffMaxMs: config.ENGINE_BACKOFF_MAX_MS,
        failoverAfter: config.ENGINE_FAILOVER_AFTER,
        probeIntervalMs: config.ENGINE_PROBE_INTERVAL_MS,
        replayMaxMs: config.ENGINE_REPLAY_MAX_MS,
        watchdogMs: config.ENGINE_WATCHDOG_MS,
        idleReleaseMs: config.ENGINE_IDLE_RELEASE_MS,
        ...overrides.resilience,
      },
      logger,
      counters,
    ),
    vocabularies,
    logger,
  );
  return { primary, engine, vocabularyRepo, vocabularies };
}
