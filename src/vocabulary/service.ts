/**
 * Custom vocabularies per specialty at run time (issue 16, point 5; docs/review.md).
 *
 * - `forStream(specialty)`: what a new engine stream of that specialty is started with (see
 *   {@link withVocabulary}): the terms (the offline engine loads them into its decoder) and, with
 *   Transcribe, the vocabulary's name once Transcribe reports it READY (a stream naming a vocabulary
 *   that is not READY is refused). Read from the database and cached for `cacheMs`, so every task
 *   sees an admin's change within that time without a query per stream start.
 * - `publish(specialty)` (engine `aws`): after a save, the table-format file goes to the recordings
 *   bucket (`<S3_PREFIX>vocabularies/<name>/v<version>.txt`, SSE like every object) and Transcribe
 *   is asked to create or update the vocabulary from it; its state (PENDING → READY / FAILED) is
 *   polled every `pollMs` and stored, and a save made while Transcribe was still processing an
 *   earlier one is published once that one is done.
 */
import type { Logger } from '../lib/logger.js';
import { errFields } from '../lib/logger.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { Specialty, StreamVocabulary, TranscriptionEngine } from '../transcription/port.js';
import type { EngineVocabularyState, SpecialtyVocabulary, VocabularyRepository } from './repo.js';
import { vocabularyTable } from './terms.js';

/** The state Transcribe reports for a vocabulary. */
export interface VocabularyStatus {
  state: EngineVocabularyState;
  failure?: string;
}

/** Transcribe's custom-vocabulary API (adapter: providers/aws-transcribe-medical/vocabularies.ts). */
export interface VocabularyPublisher {
  /** Creates the vocabulary, or replaces its terms, from the table file at `fileUri`. */
  put(name: string, fileUri: string): Promise<VocabularyStatus>;
  /** Its current state; undefined when Transcribe has no vocabulary of that name. */
  state(name: string): Promise<VocabularyStatus | undefined>;
  close(): Promise<void>;
}

export interface VocabularyServiceOptions {
  repo: VocabularyRepository;
  logger: Logger;
  /** Engine `aws`: where the table file goes and who creates the vocabulary from it. */
  transcribe?: {
    publisher: VocabularyPublisher;
    store: ObjectStore;
    /** TRANSCRIBE_VOCABULARY_PREFIX: the vocabulary of CARDIOLOGY is `<prefix>cardiology`. */
    namePrefix: string;
    /**
     * Why Transcribe cannot read the file, when known at start-up (its bucket in another region than
     * the streams, or the embedded store): every publish is then FAILED with this reason.
     */
    unusable?: string;
  };
  /** How often a PENDING vocabulary's state is asked for (default 10 s; Transcribe takes minutes). */
  pollMs?: number;
  /** How long a specialty's vocabulary is cached for stream starts (default 10 s). */
  cacheMs?: number;
}

export class VocabularyService {
  private readonly cache = new Map<Specialty, { at: number; value: StreamVocabulary | undefined }>();
  private readonly polling = new Map<Specialty, NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly o: VocabularyServiceOptions) {}

  /** The engine's name for a specialty's vocabulary (engine `aws`). */
  nameOf(specialty: Specialty): string | undefined {
    return this.o.transcribe ? `${this.o.transcribe.namePrefix}${specialty.toLowerCase()}` : undefined;
  }

  /** What a stream of `specialty` starts with; undefined when its vocabulary is empty. */
  async forStream(specialty: Specialty): Promise<StreamVocabulary | undefined> {
    const hit = this.cache.get(specialty);
    if (hit && Date.now() - hit.at < (this.o.cacheMs ?? 10_000)) return hit.value;
    const v = await this.o.repo.get(specialty);
    // Another task published it, or the one that did stopped polling (a restart): poll from here.
    if (this.o.transcribe && v.engine?.state === 'PENDING') this.poll(specialty);
    const value: StreamVocabulary | undefined =
      v.terms.length === 0 ? undefined : { terms: v.terms, ...(v.engine?.state === 'READY' && this.o.transcribe ? { name: v.engine.name } : {}) };
    this.cache.set(specialty, { at: Date.now(), value });
    return value;
  }

  /**
   * Sends the saved vocabulary to Transcribe (engine `aws`; nothing otherwise) and records the state
   * it reports. Never throws: a failure is recorded as FAILED with the error's name.
   */
  async publish(specialty: Specialty): Promise<SpecialtyVocabulary> {
    this.cache.delete(specialty);
    const t = this.o.transcribe;
    const v = await this.o.repo.get(specialty);
    if (!t || this.closed) return v;
    const name = this.nameOf(specialty)!;
    const log = this.o.logger.child({ specialty, vocabulary: name, version: v.version });
    if (t.unusable) {
      await this.o.repo.setEngine(specialty, { name, version: v.version, state: 'FAILED', failure: t.unusable });
      return this.o.repo.get(specialty);
    }
    try {
      // Transcribe refuses an update while it is still processing the previous one; the poll
      // publishes this version once that one is done.
      const before = await t.publisher.state(name);
      if (before?.state === 'PENDING') {
        log.info('vocabulary_publish_deferred');
        this.poll(specialty);
        return v;
      }
      const key = `${t.store.prefix}vocabularies/${name}/v${v.version}.txt`;
      const body = Buffer.from(vocabularyTable(v.terms), 'utf8');
      await t.store.put(key, body, 'text/plain; charset=utf-8');
      const status = await t.publisher.put(name, t.store.uri(key));
      await this.o.repo.setEngine(specialty, { name, version: v.version, ...status });
      log.info({ state: status.state, terms: v.terms.length }, 'vocabulary_published');
      if (status.state === 'PENDING') this.poll(specialty);
    } catch (err) {
      const failure = (err as Error).name || 'Error';
      log.warn({ err: errFields(err) }, 'vocabulary_publish_failed');
      await this.o.repo.setEngine(specialty, { name, version: v.version, state: 'FAILED', failure });
    }
    return this.o.repo.get(specialty);
  }

  /** Polls Transcribe for the vocabulary's state until it is no longer PENDING (one timer per specialty). */
  private poll(specialty: Specialty): void {
    const t = this.o.transcribe;
    if (!t || this.closed || this.polling.has(specialty)) return;
    const name = this.nameOf(specialty)!;
    const tick = async (): Promise<void> => {
      let again = true;
      try {
        const v = await this.o.repo.get(specialty);
        const s = await t.publisher.state(name);
        if (s && s.state !== 'PENDING') {
          again = false;
          const engineVersion = v.engine?.version ?? 0;
          await this.o.repo.setEngine(specialty, { name, version: engineVersion, ...s });
          this.cache.delete(specialty);
          this.polling.delete(specialty);
          // Saved again while Transcribe was busy: now send the newer terms.
          if (v.version > engineVersion) await this.publish(specialty);
          return;
        }
        if (!s) again = false;
      } catch (err) {
        this.o.logger.warn({ specialty, err: errFields(err) }, 'vocabulary_state_check_failed');
      }
      this.polling.delete(specialty);
      if (again && !this.closed) this.schedule(specialty, tick);
    };
    this.schedule(specialty, tick);
  }

  private schedule(specialty: Specialty, tick: () => Promise<void>): void {
    const timer = setTimeout(() => void tick(), this.o.pollMs ?? 10_000);
    timer.unref();
    this.polling.set(specialty, timer);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.polling.values()) clearTimeout(t);
    this.polling.clear();
    await this.o.transcribe?.publisher.close();
  }
}

/**
 * The engine with each stream started with its specialty's vocabulary (unless the caller gave
 * one). A failed lookup (database away) starts the stream without one: a vocabulary improves a
 * transcript, its absence must not stop a recording.
 */
export function withVocabulary(engine: TranscriptionEngine, vocabularies: Pick<VocabularyService, 'forStream'>, logger: Logger): TranscriptionEngine {
  return {
    name: engine.name,
    ...(engine.acceptsOpus ? { acceptsOpus: true } : {}),
    async start(options) {
      let vocabulary = options.vocabulary;
      if (!vocabulary) {
        try {
          vocabulary = await vocabularies.forStream(options.specialty);
        } catch (err) {
          logger.warn({ sessionId: options.sessionId, err: errFields(err) }, 'vocabulary_lookup_failed');
        }
      }
      return engine.start(vocabulary ? { ...options, vocabulary } : options);
    },
    check: () => engine.check(),
    close: () => engine.close(),
  };
}
