import type { ModelPaths } from './pocketsphinx.js';
import type { VocabularyTerm } from '../../port.js';
import type { RecognizerResult } from './recognizer.js';
import type { VocabularyReport } from './vocabulary.js';

/** PocketSphinx search setting of one stream: `full` (its defaults, two passes) or `fast` (one pass, tighter pruning). */
export type SearchMode = 'full' | 'fast';

/** Main thread → worker. */
export type ToWorker =
  /** `vocabulary`: custom terms to add to this stream's decoder (its own dictionary). */
  | { type: 'open'; id: number; search: SearchMode; vocabulary?: VocabularyTerm[] }
  | { type: 'audio'; id: number; pcm: ArrayBuffer }
  | { type: 'end'; id: number }
  | { type: 'abort'; id: number }
  | { type: 'ping'; id: number }
  /** Free every decoder and the language model, then exit (an idle stop; terminate() would leak them). */
  | { type: 'shutdown'; id: number };

/** Worker → main thread. */
export type FromWorker =
  /** The model is loaded; these are its files. */
  | { type: 'ready'; model: ModelPaths }
  | { type: 'init-error'; message: string }
  | { type: 'result'; id: number; result: RecognizerResult }
  /** One `audio` message was decoded: `samples` of it. Lets the main thread measure the backlog. */
  | { type: 'processed'; id: number; samples: number }
  /** What the stream's custom vocabulary did to its decoder (sent after `open` when it had one). */
  | { type: 'vocabulary'; id: number; report: VocabularyReport }
  | { type: 'ended'; id: number }
  | { type: 'stream-error'; id: number; message: string }
  | { type: 'pong'; id: number };

/** What the worker is started with (workerData). */
export interface WorkerInit {
  lmDir?: string;
  /** Extra PocketSphinx arguments of each search setting. */
  args: Record<SearchMode, string[]>;
  /** Decoders kept warm for reuse, beyond those in use (of the setting the last stream asked for). */
  spareDecoders: number;
  /** The setting of the spare decoders made at start-up. */
  firstSearch: SearchMode;
}
