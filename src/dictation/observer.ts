import type { MetricsHooks } from '../lib/metrics-hooks.js';
import type { RecordingWriter } from '../recordings/writer.js';
import type { TranscriptionStream } from '../transcription/port.js';
import type { SessionSink } from './types.js';

/**
 * The observer port of the live sessions: what they report for metrics, defined here by the domain
 * and implemented by `metrics/` (`MetricsObserver`), so the domain imports nothing of metrics.
 * Labels carry closed sets only (engine names, codes, reasons): never ids or patient data.
 */
export interface DictationObserver extends MetricsHooks {
  /** A live session is starting: what observes it from here on. */
  sessionStarted(): SessionObserver;
}

/**
 * One live session, observed from the outside: its engine stream, its sink and its recording are
 * passed through decorators that measure them, so the session itself holds no metrics code.
 */
export interface SessionObserver {
  /** The engine stream, measured: the session writes to and iterates the one returned. */
  stream(inner: TranscriptionStream): TranscriptionStream;
  /** The session's sink, measured. */
  sink(inner: SessionSink): SessionSink;
  /** The recording writer, its outcome counted. */
  recording(writer: RecordingWriter): RecordingWriter;
  /** The engine refused to start a stream (`code`: its error code). */
  engineStartFailed(code: string | undefined): void;
}

/** Observes nothing: the default when no observer is given. */
export const noopObserver: DictationObserver = {
  inc: () => {},
  sessionStarted: () => ({ stream: (s) => s, sink: (s) => s, recording: (w) => w, engineStartFailed: () => {} }),
};
