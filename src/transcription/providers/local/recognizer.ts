import type { Word } from '../../port.js';
import type { Decoder, DecodedWord } from './pocketsphinx.js';
import { displayWords } from './vocabulary.js';

/** A result as the worker reports it (the port's shape minus speaker). */
export interface RecognizerResult {
  kind: 'partial' | 'final';
  segmentId: string;
  text: string;
  startMs: number;
  endMs: number;
  /** Finals: each word's time and, under the full search, its posterior probability. */
  words?: Word[];
}

export interface RecognizerTuning {
  /** Audio between two partial hypotheses. */
  partialEveryMs: number;
  /** An utterance longer than this is cut (final) even without a pause, bounding search memory. */
  maxUtteranceMs: number;
  /** PocketSphinx VAD: frames of speech before "in speech", and of silence after it (10 ms frames). */
  vadStartFrames: number;
  vadPostFrames: number;
}

export const DEFAULT_TUNING: RecognizerTuning = { partialEveryMs: 300, maxUtteranceMs: 20_000, vadStartFrames: 10, vadPostFrames: 50 };

/**
 * One stream's recognition on one decoder: PocketSphinx's VAD segments utterances; during an
 * utterance the current best hypothesis is a partial; at the pause after it, the final. Times are
 * ms from the stream's first sample, monotonic.
 */
export class Recognizer {
  private samples = 0;
  private inUtt = false;
  private uttIndex = 0;
  private uttStartMs = 0;
  private lastEndMs = 0;
  private lastPartialAt = 0;
  private lastPartial = '';

  constructor(
    private readonly decoder: Decoder,
    private readonly emit: (r: RecognizerResult) => void,
    private readonly tuning: RecognizerTuning = DEFAULT_TUNING,
    /** Custom-vocabulary words (dictionary form) → how the transcript writes them. */
    private readonly display: ReadonlyMap<string, string> = new Map(),
  ) {
    decoder.startUtt();
  }

  private get nowMs(): number {
    return Math.round(this.samples / 16);
  }

  write(pcm: Int16Array): void {
    this.decoder.process(pcm);
    this.samples += pcm.length;
    const speech = this.decoder.inSpeech();
    if (!this.inUtt && speech) {
      this.inUtt = true;
      // The VAD needs vadStartFrames of speech (plus this chunk) before it says so.
      const lead = this.tuning.vadStartFrames * 10 + Math.round(pcm.length / 16);
      this.uttStartMs = Math.max(this.lastEndMs, this.nowMs - lead);
      this.lastPartialAt = this.nowMs;
      this.lastPartial = '';
    }
    if (!this.inUtt) return;
    if (!speech) {
      // The VAD reports the pause vadPostFrames after the last speech.
      this.finishUtterance(Math.max(this.uttStartMs, this.nowMs - this.tuning.vadPostFrames * 10));
      this.decoder.startUtt();
      return;
    }
    if (this.nowMs - this.uttStartMs >= this.tuning.maxUtteranceMs) {
      this.finishUtterance(this.nowMs);
      this.decoder.startUtt();
      // Still in speech: the next utterance starts here.
      this.inUtt = true;
      this.uttStartMs = this.nowMs;
      this.lastPartial = '';
      return;
    }
    if (this.nowMs - this.lastPartialAt >= this.tuning.partialEveryMs) {
      this.lastPartialAt = this.nowMs;
      const text = displayWords(this.decoder.hyp(), this.display);
      if (text !== '' && text !== this.lastPartial) {
        this.lastPartial = text;
        this.emit({ kind: 'partial', segmentId: this.segmentId, text, startMs: this.uttStartMs, endMs: this.nowMs });
      }
    }
  }

  /** End of audio: the open utterance (if any) becomes a final. Leaves the decoder idle. */
  end(): void {
    if (this.inUtt) this.finishUtterance(this.nowMs);
    else this.decoder.endUtt();
  }

  /** Drops the open utterance. */
  abort(): void {
    this.decoder.endUtt();
  }

  private get segmentId(): string {
    return `utt-${this.uttIndex}`;
  }

  /**
   * The best path's words without fillers (`<s>`, `<sil>`, `[NOISE]`, `++…++`) and without the
   * alternate-pronunciation mark (`and(2)`), inside the segment (its times are the ones the failover and
   * replay logic already relies on, so the words never move a segment's end). PocketSphinx 5prealpha counts
   * frames (10 ms) from the decoder's first utterance, not from each ps_start_utt: on jfk.wav the
   * second utterance's `<s>` is frame 317 for a segment the VAD placed at 3200 ms, the last `</s>`
   * ends at frame 1095 of 11 s. Should a build count from the utterance instead (its first frame
   * far before the segment), the segment start is added.
   */
  private words(segments: DecodedWord[], endMs: number): Word[] {
    const first = segments[0];
    const base = first && first.startFrame * 10 < this.uttStartMs - 2000 ? this.uttStartMs : 0;
    const at = (f: number) => Math.min(endMs, Math.max(this.uttStartMs, base + f * 10));
    const out: Word[] = [];
    for (const s of segments) {
      if (/^(<.*>|\[.*\]|\+\+.*\+\+)$/.test(s.word)) continue;
      const word = s.word.replace(/\(\d+\)$/, '');
      out.push({ text: this.display.get(word) ?? word, startMs: at(s.startFrame), endMs: at(s.endFrame + 1), ...(s.confidence !== undefined ? { confidence: Math.round(s.confidence * 1000) / 1000 } : {}) });
    }
    return out;
  }

  private finishUtterance(endMs: number): void {
    this.decoder.endUtt();
    const text = displayWords(this.decoder.hyp(), this.display);
    if (text !== '') {
      const words = this.words(this.decoder.segments(), endMs);
      this.emit({ kind: 'final', segmentId: this.segmentId, text, startMs: this.uttStartMs, endMs, ...(words.length ? { words } : {}) });
      this.uttIndex++;
    } else if (this.lastPartial !== '') {
      // Partials went out under this id: close the segment with an empty final so clients can drop it.
      this.emit({ kind: 'final', segmentId: this.segmentId, text: '', startMs: this.uttStartMs, endMs });
      this.uttIndex++;
    }
    this.lastEndMs = endMs;
    this.inUtt = false;
  }
}
