import { AppError, toAppError } from '../lib/app-error.js';
import type { Logger } from '../lib/logger.js';
import { errFields } from '../lib/logger.js';
import type { TranscriptResult } from '../transcription/port.js';
import type { LiveSessionDeps } from './live-session-deps.js';
import type { PartialFilter } from './partial-filter.js';

/** What the results of one live session's engine stream go through. */
export type ResultDeps = Pick<LiveSessionDeps, 'stream' | 'repo' | 'sink' | 'transcriptionId' | 'engineName' | 'ownerTask'> & {
  partials: PartialFilter;
  log: Logger;
};

/**
 * Reads the engine stream of a live session (live-session.ts) to its end: partials through the
 * filter to the sink, each final stored and then shown. Resolves when the stream ends; an engine
 * failure is told to the client (the recording continues) and handed to `onFailed`.
 */
export async function consumeResults(d: ResultDeps, onFailed: (failure: AppError) => void): Promise<void> {
  try {
    for await (const r of d.stream) {
      if (r.kind === 'partial') d.partials.partial(r);
      else await storeFinal(d, r);
    }
  } catch (err) {
    onFailed(toAppError(err).code === 'internal_error' ? new AppError('transcriber_unavailable', undefined, { cause: err }) : toAppError(err));
    d.log.warn({ err: errFields(err) }, 'engine_failed');
    d.sink.error({ code: 'transcriber_unavailable', message: 'The speech engine stopped; the recording continues.', fatal: false });
  } finally {
    d.partials.flush();
  }
}

/**
 * Stores a final (in one statement with the finals other sessions store within 50 ms:
 * segment-batcher.ts; retrying for about 35 s: a database that refuses it for longer fails the
 * stream), then shows it.
 */
async function storeFinal(d: ResultDeps, r: TranscriptResult): Promise<void> {
  if (!d.partials.final(r)) return;
  const text = r.text.trim();
  if (!text) return;
  // Stored before it is shown: a crash after this line loses no final text.
  for (let attempt = 0; ; attempt++) {
    try {
      await d.repo.insertSegment(
        {
          transcriptionId: d.transcriptionId,
          segmentKey: r.segmentId,
          startMs: r.startMs,
          endMs: r.endMs,
          text,
          speaker: r.speaker,
          engine: r.engine ?? d.engineName,
          words: r.words,
          phi: r.phi,
        },
        d.ownerTask,
      );
      break;
    } catch (err) {
      if (attempt >= 20) throw err;
      d.log.warn({ attempt }, 'segment_write_retry');
      await new Promise((res) => setTimeout(res, Math.min(100 * 2 ** attempt, 2000)));
    }
  }
  d.sink.final({ segmentId: r.segmentId, text, startMs: r.startMs, endMs: r.endMs, speaker: r.speaker });
}
