import { InvalidAudioError } from './errors.js';

const ID = {
  EBML: 0x1a45dfa3,
  Segment: 0x18538067,
  Cluster: 0x1f43b675,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  SimpleBlock: 0xa3,
  BlockGroup: 0xa0,
  Block: 0xa1,
} as const;

/** Elements we step into rather than skip; their children are parsed as a flat sequence. */
const MASTERS = new Set<number>([ID.Segment, ID.Cluster, ID.Tracks, ID.TrackEntry, ID.BlockGroup]);
/**
 * Everything that may follow the first Cluster in a MediaRecorder/ffmpeg stream. WebM has no checksum,
 * so an element id outside this set is how we notice bytes that are not (or no longer) WebM.
 */
const AFTER_FIRST_CLUSTER = new Set<number>([
  ID.Cluster, ID.SimpleBlock, ID.BlockGroup, ID.Block,
  0xe7 /* Timecode */, 0xa7 /* Position */, 0xab /* PrevSize */, 0x9b /* BlockDuration */,
  0xfb /* ReferenceBlock */, 0x75a2 /* DiscardPadding */, 0xec /* Void */, 0xbf /* CRC-32 */,
  0x1c53bb6b /* Cues */, 0x1254c367 /* Tags */, 0x114d9b74 /* SeekHead */, 0x1043a770 /* Chapters */,
]);
/** Largest non-master element we are willing to buffer (a cover image would be bigger; audio is not). */
const MAX_ELEMENT = 8 * 1024 * 1024;

interface Vint {
  value: number;
  length: number;
  unknown: boolean;
}

function readVint(buf: Buffer, pos: number, keepMarker: boolean): Vint | undefined {
  const first = buf[pos];
  if (first === undefined) return undefined;
  let length = 1;
  while (length <= 8 && (first & (0x80 >> (length - 1))) === 0) length++;
  if (length > 8) throw new InvalidAudioError('bad EBML variable-length integer');
  if (buf.length - pos < length) return undefined;
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    const b = buf[pos + i]!;
    if (b !== 0xff) allOnes = false;
    value = value * 256 + b;
  }
  return { value, length, unknown: !keepMarker && allOnes };
}

/**
 * Incremental WebM (Matroska) demuxer for the Opus audio track that MediaRecorder writes: EBML
 * header, a Segment and Clusters of unknown size, SimpleBlocks without lacing. Bytes may arrive in
 * any chunking; only the first chunk carries the header. The OpusHead comes from the track's
 * CodecPrivate. Bytes that are not WebM fail with {@link InvalidAudioError}.
 */
export class WebmDemuxer {
  private pending: Buffer = Buffer.alloc(0);
  private sawHeader = false;
  private opusTrack: number | undefined;
  private readonly tracks = new Set<number>();
  private inClusters = false;
  private entry: { number?: number; codec?: string; priv?: Buffer } = {};
  /** The OpusHead from CodecPrivate, once the Tracks element has been read. */
  opusHead: Buffer | undefined;

  /** Returns the Opus packets completed by this chunk. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const buf = this.pending;
    const packets: Buffer[] = [];
    let pos = 0;
    for (;;) {
      const id = readVint(buf, pos, true);
      if (!id) break;
      if (id.length > 4) throw new InvalidAudioError('bad EBML element id');
      const size = readVint(buf, pos + id.length, false);
      if (!size) break;
      const head = id.length + size.length;
      if (!this.sawHeader) {
        if (id.value !== ID.EBML) throw new InvalidAudioError('not a WebM stream');
        this.sawHeader = true;
      }
      if (id.value === ID.Cluster) this.inClusters = true;
      else if (this.inClusters && !AFTER_FIRST_CLUSTER.has(id.value)) throw new InvalidAudioError('unexpected WebM element');
      if (MASTERS.has(id.value)) {
        if (id.value === ID.TrackEntry) {
          this.finishTrackEntry();
          this.entry = {};
        }
        pos += head; // step inside; children follow
        continue;
      }
      if (size.unknown) throw new InvalidAudioError('unknown-size EBML element');
      if (size.value > MAX_ELEMENT) throw new InvalidAudioError('EBML element too large');
      if (buf.length - pos < head + size.value) break;
      const body = buf.subarray(pos + head, pos + head + size.value);
      this.element(id.value, body, packets);
      pos += head + size.value;
    }
    this.pending = pos === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos));
    return packets;
  }

  /** A block cut short by the end of the stream is dropped: what was whole is kept. */
  end(): void {
    this.pending = Buffer.alloc(0);
  }

  private element(id: number, body: Buffer, packets: Buffer[]): void {
    switch (id) {
      case ID.TrackNumber:
        this.entry.number = body.length > 0 ? body.readUIntBE(0, Math.min(body.length, 6)) : 0;
        break;
      case ID.CodecID:
        this.entry.codec = body.toString('latin1').replace(/\0+$/, '');
        break;
      case ID.CodecPrivate:
        this.entry.priv = Buffer.from(body);
        break;
      case ID.SimpleBlock:
      case ID.Block: {
        this.finishTrackEntry();
        if (this.opusTrack === undefined) throw new InvalidAudioError('WebM has no Opus audio track');
        const track = readVint(body, 0, false);
        if (!track || body.length < track.length + 3) throw new InvalidAudioError('truncated WebM block');
        if (!this.tracks.has(track.value)) throw new InvalidAudioError('WebM block for an undeclared track');
        if (track.value !== this.opusTrack) return;
        const flags = body[track.length + 2]!;
        if ((flags & 0x06) !== 0) throw new InvalidAudioError('laced WebM blocks are not supported');
        const frame = body.subarray(track.length + 3);
        if (frame.length > 0) packets.push(Buffer.from(frame));
        break;
      }
      default:
        break;
    }
  }

  /** Adopts the entry read so far if it is the first Opus track (entries end where the next begins). */
  private finishTrackEntry(): void {
    const e = this.entry;
    if (e.number !== undefined) this.tracks.add(e.number);
    if (this.opusTrack !== undefined) return;
    if (e.codec === 'A_OPUS' && e.number !== undefined) {
      this.opusTrack = e.number;
      this.opusHead = e.priv;
    }
  }
}
