/** Main thread → Opus decoding worker. */
export type ToOpusWorker =
  | { type: 'open'; id: number }
  /**
   * Packets of one chunk, in order, back to back in `data` (transferred, not copied) with their
   * `lengths`; `preSkip16k` with the first packets after the OpusHead.
   */
  | { type: 'decode'; id: number; seq: number; data: ArrayBuffer; lengths: number[]; preSkip16k?: number }
  | { type: 'close'; id: number };

/** Opus decoding worker → main thread: one answer per `decode`. */
export type FromOpusWorker =
  /** 16 kHz mono s16 samples of the packets. */
  | { type: 'pcm'; id: number; seq: number; pcm: ArrayBuffer }
  | { type: 'error'; id: number; seq: number; message: string };
