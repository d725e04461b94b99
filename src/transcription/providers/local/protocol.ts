import type { RecognizerResult } from './recognizer.js';

/** Main thread → worker. */
export type ToWorker =
  | { type: 'open'; id: number }
  | { type: 'audio'; id: number; pcm: ArrayBuffer }
  | { type: 'end'; id: number }
  | { type: 'abort'; id: number }
  | { type: 'ping'; id: number }
  /** Free every decoder and the language model, then exit (an idle stop; terminate() would leak them). */
  | { type: 'shutdown'; id: number };

/** Worker → main thread. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'init-error'; message: string }
  | { type: 'result'; id: number; result: RecognizerResult }
  /** One `audio` message was decoded: `samples` of it. Lets the main thread measure the backlog. */
  | { type: 'processed'; id: number; samples: number }
  | { type: 'ended'; id: number }
  | { type: 'stream-error'; id: number; message: string }
  | { type: 'pong'; id: number };

/** What the worker is started with (workerData). */
export interface WorkerInit {
  lmDir?: string;
  /** Extra PocketSphinx arguments (search tuning). */
  args: string[];
  /** Decoders kept warm for reuse, beyond those in use. */
  spareDecoders: number;
}
