/**
 * The reference relay of `npm run bench -- --reference`: the floor of the live-dictation job, to
 * which the service's cost is compared in the same run (BENCHMARKS.md, `vsReference`).
 *
 * The same libraries as the service (Socket.IO, express-session, @aws-sdk/client-transcribe-streaming,
 * from this package's node_modules, so the same versions) doing the least the job needs: a login sets
 * an express-session cookie (memory store; the bench's users, passwords compared as given), the
 * Socket.IO handshake refuses a socket without one, `session:start` opens a file and a Transcribe
 * Medical stream, each `audio:chunk` is appended to the file and acked after the append, then handed
 * to the stream as one audio event; results go back as `transcript:partial` / `transcript:final`.
 * No database, no object store, no decoding, no checkpoints, no metrics. A bench tool, not part of
 * the service (nothing in src/ uses it).
 *
 * What goes to Transcribe is the least it accepts of each encoding: PCM as it came; Ogg Opus cut at
 * page boundaries (an audio event holds whole pages: a page split across events ends the stream,
 * as it does the service's); WebM Opus, which Transcribe does not take, remuxed to Ogg pages with
 * the service's own demuxer and page writer (packets copied, never decoded).
 *
 * Run as a child process: `node --import tsx scripts/lib/reference-relay.ts` with PORT,
 * RELAY_DIR (where the files go), RELAY_USERS (JSON [{username,password}]), and the Transcribe
 * endpoint and credentials in the SDK's usual variables (AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING,
 * AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). Prints `{"msg":"service_ready","url":…}`
 * when it listens; stops on SIGTERM.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { StartMedicalStreamTranscriptionCommand, TranscribeStreamingClient } from '@aws-sdk/client-transcribe-streaming';
import express from 'express';
import session from 'express-session';
import { Server, type Socket } from 'socket.io';
import { OggOpusWriter } from '../../src/audio/ogg-opus.js';
import { opusPacketSamples48k, parseOpusHead } from '../../src/audio/opus-packet.js';
import { WebmDemuxer } from '../../src/audio/webm-demuxer.js';
import { MAX_SOCKET_MESSAGE_BYTES } from '../../src/config/limits.js';
import { SOCKET_IO_PING_INTERVAL_MS, SOCKET_IO_PING_TIMEOUT_MS } from '../../src/lib/timeouts.js';

interface RelaySession {
  file: fs.promises.FileHandle;
  bytes: number;
  encoding: string;
  audio: Buffer[];
  /** The previous chunk's append: chunks are appended, acked and streamed in order. */
  tail: Promise<void>;
  wake?: () => void;
  ended: boolean;
  /** Resolves when the Transcribe stream has delivered its last result. */
  done: Promise<void>;
  /** The chunk's bytes as Transcribe takes them (whole Ogg pages for Opus); may be empty. */
  toStream: (chunk: Buffer) => Buffer;
}

/**
 * Ogg bytes in any slicing → the whole pages each slice completes (the page header's segment table
 * gives its length; nothing is checked or copied but a page cut by a slice's end).
 */
export function oggPageCutter(): (chunk: Buffer) => Buffer {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    const buf = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let end = 0;
    while (buf.length - end >= 27) {
      const nseg = buf[end + 26]!;
      if (buf.length - end < 27 + nseg) break;
      let len = 27 + nseg;
      for (let i = 0; i < nseg; i++) len += buf[end + 27 + i]!;
      if (buf.length - end < len) break;
      end += len;
    }
    pending = end === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(end));
    return buf.subarray(0, end);
  };
}

/** WebM Opus bytes in any slicing → Ogg Opus pages of the packets each slice completes. */
export function webmToOgg(): (chunk: Buffer) => Buffer {
  const demuxer = new WebmDemuxer();
  let ogg: OggOpusWriter | undefined;
  return (chunk) => {
    const packets = demuxer.push(chunk);
    if (packets.length === 0 || !demuxer.opusHead) return Buffer.alloc(0);
    let headers: Buffer | undefined;
    if (!ogg) {
      const head = parseOpusHead(demuxer.opusHead);
      ogg = new OggOpusWriter({ channels: head.channels, preSkip: head.preSkip, inputSampleRate: head.inputSampleRate }, 1);
      headers = ogg.headers();
    }
    const pages = ogg.packets(packets.map((data) => ({ data, samples48k: opusPacketSamples48k(data) })));
    return headers ? Buffer.concat([headers, pages]) : pages;
  };
}

export interface RelayOptions {
  port: number;
  dir: string;
  users: Array<{ username: string; password: string }>;
  /** Where Transcribe is, when not from the environment (tests). */
  transcribe?: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
}

/** Starts the relay; resolves with its URL and a close(). */
export async function startReferenceRelay(o: RelayOptions): Promise<{ url: string; close(): Promise<void> }> {
  const passwords = new Map(o.users.map((u) => [u.username, u.password]));
  const sessionMiddleware = session({ secret: randomUUID(), resave: false, saveUninitialized: false, rolling: true, cookie: { httpOnly: true, sameSite: 'lax' } });
  const app = express();
  app.use(express.json());
  app.use(sessionMiddleware);
  app.post('/api/auth/login', (req, res) => {
    const { username, password } = (req.body ?? {}) as { username?: string; password?: string };
    if (!username || passwords.get(username) !== password) return void res.status(401).json({ error: { code: 'invalid_credentials' } });
    (req.session as unknown as { userId: string }).userId = username;
    res.json({ user: { id: username, username, role: 'clinician' } });
  });
  const server = http.createServer(app);
  const io = new Server(server, { serveClient: false, cors: { origin: false }, maxHttpBufferSize: MAX_SOCKET_MESSAGE_BYTES, pingInterval: SOCKET_IO_PING_INTERVAL_MS, pingTimeout: SOCKET_IO_PING_TIMEOUT_MS });
  io.engine.use(sessionMiddleware);
  io.use((socket, next) => {
    const s = (socket.request as http.IncomingMessage & { session?: { userId?: string } }).session;
    next(s?.userId ? undefined : new Error('unauthorized'));
  });
  const client = new TranscribeStreamingClient({ ...(o.transcribe ?? {}), logger: { trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} } });
  const sessions = new Map<string, RelaySession>();
  fs.mkdirSync(o.dir, { recursive: true });

  const startStream = (id: string, s: RelaySession, emit: Socket['emit']) => {
    async function* audioEvents() {
      for (;;) {
        const chunk = s.audio.shift();
        if (chunk) yield { AudioEvent: { AudioChunk: chunk } };
        else if (s.ended) return;
        else await new Promise<void>((r) => (s.wake = r));
      }
    }
    const command = new StartMedicalStreamTranscriptionCommand({
      LanguageCode: 'en-US',
      ...(s.encoding === 'pcm_s16le' ? { MediaEncoding: 'pcm' as const, MediaSampleRateHertz: 16000 } : { MediaEncoding: 'ogg-opus' as const, MediaSampleRateHertz: 48000 }),
      Specialty: 'PRIMARYCARE',
      Type: 'DICTATION',
      ContentIdentificationType: 'PHI',
      AudioStream: audioEvents(),
    });
    return (async () => {
      try {
        const res = await client.send(command);
        let n = 0;
        for await (const event of res.TranscriptResultStream ?? []) {
          for (const r of event.TranscriptEvent?.Transcript?.Results ?? []) {
            const text = r.Alternatives?.[0]?.Transcript ?? '';
            const p = { sessionId: id, segmentId: r.ResultId ?? String(n++), text, startMs: Math.round((r.StartTime ?? 0) * 1000), endMs: Math.round((r.EndTime ?? 0) * 1000) };
            emit(r.IsPartial ? 'transcript:partial' : 'transcript:final', p);
          }
        }
      } catch {
        emit('session:error', { sessionId: id, code: 'transcriber_unavailable', message: 'stream failed', fatal: true });
      }
    })();
  };

  io.on('connection', (socket) => {
    type AckFn = (r: unknown) => void;
    socket.on('session:start', async (p: { audio?: { encoding?: string } }, ack: AckFn) => {
      const id = randomUUID();
      const file = await fs.promises.open(path.join(o.dir, `${id}.audio`), 'a');
      const encoding = p?.audio?.encoding ?? 'pcm_s16le';
      const toStream = encoding === 'ogg_opus' ? oggPageCutter() : encoding === 'webm_opus' ? webmToOgg() : (chunk: Buffer) => chunk;
      const s: RelaySession = { file, bytes: 0, encoding, audio: [], tail: Promise.resolve(), ended: false, done: Promise.resolve(), toStream };
      sessions.set(id, s);
      s.done = startStream(id, s, socket.emit.bind(socket) as Socket['emit']);
      ack({ ok: true, sessionId: id, transcriptionId: id });
    });
    socket.on('audio:chunk', async (p: { sessionId: string; seq: number; data: Buffer }, ack: AckFn) => {
      const s = sessions.get(p.sessionId);
      if (!s || s.ended) return ack({ ok: false, error: { code: 'session_not_found', message: 'no such session' } });
      s.tail = s.tail.then(async () => {
        await s.file.appendFile(p.data);
        s.bytes += p.data.length;
        ack({ ok: true, ackSeq: p.seq });
        const audio = s.toStream(p.data);
        if (audio.length === 0) return;
        s.audio.push(audio);
        s.wake?.();
      });
      await s.tail;
    });
    socket.on('session:stop', async (p: { sessionId: string }, ack: AckFn) => {
      const s = sessions.get(p.sessionId);
      if (!s) return ack({ ok: false, error: { code: 'session_not_found', message: 'no such session' } });
      await s.tail;
      s.ended = true;
      s.wake?.();
      await s.done;
      await s.file.close();
      sessions.delete(p.sessionId);
      // Without decoding only PCM's duration is known (16 kHz mono s16le: 32 bytes a millisecond).
      ack({ ok: true, transcriptionId: p.sessionId, durationMs: s.encoding === 'pcm_s16le' ? Math.round(s.bytes / 32) : 0 });
    });
  });

  await new Promise<void>((resolve) => server.listen(o.port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: async () => {
      await new Promise<void>((resolve) => io.close(() => resolve()));
      client.destroy();
      for (const s of sessions.values()) await s.file.close().catch(() => {});
    },
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const relay = await startReferenceRelay({
    port: Number(process.env.PORT ?? 0),
    dir: process.env.RELAY_DIR ?? fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'arogya-relay-')),
    users: JSON.parse(process.env.RELAY_USERS ?? '[]') as RelayOptions['users'],
  });
  process.stdout.write(`${JSON.stringify({ msg: 'service_ready', url: relay.url })}\n`);
  process.on('SIGTERM', () => void relay.close().then(() => process.exit(0)));
}
