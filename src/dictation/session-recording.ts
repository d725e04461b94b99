import type { AudioEncoding, DecodedChunk, OpusHeadInfo, OpusPacket } from '../audio/index.js';
import type { Logger } from '../lib/logger.js';
import type { RecordingWriter } from '../recordings/writer.js';
import type { SessionProblem } from './types.js';

/** The audio a continuation's part starts with: the earlier part's (docs/resilience.md). */
export interface PreviousAudio {
  /** PCM sessions: the 16 kHz PCM of the earlier part, or the durable checkpoints. */
  pcm?: Buffer;
  /** Opus sessions after a crash: the packets and head of the dead task's durable chunks. */
  packets?: OpusPacket[];
  head?: OpusHeadInfo;
}

export interface SessionRecordingOptions {
  encoding: AudioEncoding;
  /** Opens the store side: the recording row, its spool and multipart upload (recordings/service.ts). */
  open: () => Promise<RecordingWriter>;
  /** A continuation: written first, as the recording holds the whole session. */
  previous?: PreviousAudio;
  /** Storage notices for the session's clients (non-fatal: the chunks are still spooled or refused). */
  notify: (p: SessionProblem) => void;
  log: Logger;
}

/** Earlier audio goes in slices, so one append never holds a minute of audio in one spool record. */
const PREVIOUS_PCM_SLICE = 1 << 20;
const PREVIOUS_PACKETS_SLICE = 500;

/**
 * A live session's recording (live-session.ts): the one place that knows its format. PCM input is
 * stored as the 16 kHz mono WAV the engine heard (speech-grade and a third of 48 kHz); Opus input as
 * its demuxed packets re-muxed into Ogg, with no decoding. It opens at `session:start` (the row,
 * spool and upload; an Ogg stream's header pages follow once the OpusHead arrives with the first
 * audio), and it says what a chunk's durable checkpoint holds: what the WAV got (PCM), or the chunk
 * as received (Opus: a continuation replays it through a new demuxer, docs/recordings.md).
 */
export class SessionRecording {
  private writer?: Promise<RecordingWriter>;
  private storageWarned = false;
  private readonly opus: boolean;
  private previous: PreviousAudio | undefined;

  constructor(private readonly o: SessionRecordingOptions) {
    this.opus = o.encoding !== 'pcm_s16le';
    this.previous = o.previous;
  }

  /** Opening was started and has not failed (a failed open is tried again at the next append). */
  get started(): boolean {
    return this.writer !== undefined;
  }

  /**
   * The recording's writer, opened (with the continuation's earlier audio) on first use. A failed
   * open rejects with `storage_unavailable` and is retried at the next call.
   */
  open(): Promise<RecordingWriter> {
    if (this.writer) return this.writer;
    const opening = this.o.open().then(async (w) => {
      this.watch(w);
      const prev = this.previous;
      if (prev?.head) await w.setOpusHead(prev.head);
      for (let i = 0; prev?.pcm && i < prev.pcm.length; i += PREVIOUS_PCM_SLICE) await w.appendPcm(prev.pcm.subarray(i, i + PREVIOUS_PCM_SLICE));
      const packets = prev?.packets ?? [];
      for (let i = 0; i < packets.length; i += PREVIOUS_PACKETS_SLICE) await w.appendOpus(packets.slice(i, i + PREVIOUS_PACKETS_SLICE));
      this.previous = undefined; // written: not held for the rest of the session
      return w;
    });
    this.writer = opening;
    opening.catch(() => {
      if (this.writer === opening) this.writer = undefined;
    });
    return opening;
  }

  /**
   * Stores one received chunk, as its format wants: PCM → WAV data, Opus → the OpusHead (once) and
   * the packets as Ogg pages. Resolves, once it is in the spool (durable against a crash of this
   * process), with what the chunk's checkpoint holds. Rejects with `storage_unavailable` (the chunk
   * must not be acknowledged) or `invalid_audio` (Opus packets before any OpusHead).
   */
  async append(wire: Buffer, decoded: DecodedChunk<Buffer | Promise<Buffer>>): Promise<Buffer> {
    const w = await this.open();
    if (!this.opus) {
      const pcm = decoded.pcm instanceof Promise ? await decoded.pcm : decoded.pcm;
      await w.appendPcm(pcm);
      return pcm;
    }
    if (decoded.head) await w.setOpusHead(decoded.head);
    await w.appendOpus(decoded.packets);
    return wire;
  }

  /**
   * A declared gap of `ms` (docs/recordings.md, gaps): a PCM recording gets that much silence, in
   * whole 100 ms frames a second at a time, returned so the engine hears it too (the transcript
   * and the playback stay in step); an Opus recording gets none (the Ogg granule runs on).
   */
  async silence(ms: number): Promise<Buffer[]> {
    if (this.opus || ms <= 0) return [];
    const w = await this.open();
    const out: Buffer[] = [];
    for (let left = Math.round(ms / 100) * 100; left > 0; left -= 1000) {
      const silence = Buffer.alloc(Math.min(left, 1000) * 32);
      await w.appendPcm(silence);
      out.push(silence);
    }
    return out;
  }

  private watch(w: RecordingWriter): void {
    w.on('warning', () => {
      if (this.storageWarned) return;
      this.storageWarned = true;
      this.o.notify({ code: 'storage_unavailable', message: 'The recording store is unreachable; audio is kept on the server and uploaded when it returns.', fatal: false });
    });
    w.on('recovered', () => {
      this.storageWarned = false;
    });
    w.on('failed', (err) => {
      this.o.notify({ code: 'storage_unavailable', message: 'Failed to save audio file.', fatal: false });
      this.o.log.error({ code: err.code }, 'recording_failed');
    });
  }
}
