/**
 * A local stand-in for Transcribe's custom-vocabulary API (the control plane: AWS JSON 1.1 over
 * HTTP/1.1, `X-Amz-Target: Transcribe.<Operation>`), for the real `@aws-sdk/client-transcribe` with
 * `endpoint: stand.url` (or AWS_ENDPOINT_URL_TRANSCRIBE). It implements CreateMedicalVocabulary,
 * UpdateMedicalVocabulary and GetMedicalVocabulary as the service does: a new or updated vocabulary
 * is PENDING until processed, then READY, or FAILED when its file is not a valid table (it reads the
 * file through `readFile`, e.g. from the S3-API store, and checks the table format); an update while
 * PENDING is refused (ConflictException... the service answers BadRequest/Conflict; we use Conflict).
 * Pass it to `startTranscribeServer({ vocabularies })` and a stream naming a vocabulary that is not
 * READY is refused with BadRequestException, as the real service does.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandInVocabulary {
  name: string;
  languageCode: string;
  fileUri: string;
  state: 'PENDING' | 'READY' | 'FAILED';
  failure?: string;
  /** The file as read at the last create/update. */
  table?: string;
  /** Create + update calls that changed it. */
  puts: number;
}

export interface VocabularyStandIn {
  readonly url: string;
  readonly vocabularies: Map<string, StandInVocabulary>;
  /** Every call: operation and input. */
  readonly calls: Array<{ operation: string; input: Record<string, unknown> }>;
  /** Processes every PENDING vocabulary now (READY, or FAILED when its table is invalid). */
  process(): void;
  /** Whether a stream may name this vocabulary (READY). */
  usable(name: string): boolean;
  close(): Promise<void>;
}

export interface VocabularyStandInOptions {
  /** Reads a VocabularyFileUri's content (e.g. from the S3-API store); undefined when it does not exist. */
  readFile: (uri: string) => Promise<string | undefined>;
  /** PENDING vocabularies are processed this long after a put (default: only by `process()`). */
  processAfterMs?: number;
}

/** Problems of a table-format vocabulary file, as Transcribe checks them (empty when valid). */
export function tableProblems(table: string): string[] {
  const lines = table.split('\n').filter((l) => l !== '');
  const problems: string[] = [];
  if (lines[0] !== 'Phrase\tSoundsLike\tIPA\tDisplayAs') problems.push('header');
  for (const [i, line] of lines.slice(1).entries()) {
    const f = line.split('\t');
    if (f.length !== 4) problems.push(`line ${i + 2}: ${f.length} fields`);
    else if (!f[0] || /\s/.test(f[0])) problems.push(`line ${i + 2}: phrase`);
    else if (f[1] && f[2]) problems.push(`line ${i + 2}: both SoundsLike and IPA`);
    else if (f[1] && !/^[\p{L}]+(-[\p{L}]+)*$/u.test(f[1])) problems.push(`line ${i + 2}: SoundsLike`);
  }
  if (Buffer.byteLength(table) > 50 * 1024) problems.push('larger than 50 KB');
  return problems;
}

export async function startVocabularyStandIn(options: VocabularyStandInOptions): Promise<VocabularyStandIn> {
  const vocabularies = new Map<string, StandInVocabulary>();
  const calls: VocabularyStandIn['calls'] = [];
  const timers = new Set<NodeJS.Timeout>();

  const processOne = (v: StandInVocabulary) => {
    if (v.state !== 'PENDING') return;
    const problems = v.table === undefined ? ['file not found'] : tableProblems(v.table);
    v.state = problems.length ? 'FAILED' : 'READY';
    if (problems.length) v.failure = `Invalid vocabulary file: ${problems.join('; ')}`;
    else delete v.failure;
  };
  const describe = (v: StandInVocabulary) => ({
    VocabularyName: v.name,
    LanguageCode: v.languageCode,
    VocabularyState: v.state,
    LastModifiedTime: Date.now() / 1000,
    ...(v.failure ? { FailureReason: v.failure } : {}),
  });
  const error = (res: http.ServerResponse, type: string, message: string) => {
    res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': `${type}:` });
    res.end(JSON.stringify({ __type: type, Message: message }));
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const operation = String(req.headers['x-amz-target'] ?? '').replace(/^Transcribe\./, '');
        let input: Record<string, unknown> = {};
        try {
          input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
        } catch {
          return error(res, 'BadRequestException', 'invalid JSON');
        }
        calls.push({ operation, input });
        const name = String(input.VocabularyName ?? '');
        const existing = vocabularies.get(name);
        const ok = (body: unknown) => {
          res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
          res.end(JSON.stringify(body));
        };
        switch (operation) {
          case 'GetMedicalVocabulary':
            return existing ? ok(describe(existing)) : error(res, 'NotFoundException', 'The requested vocabulary could not be found.');
          case 'CreateMedicalVocabulary':
          case 'UpdateMedicalVocabulary': {
            if (operation === 'CreateMedicalVocabulary' && existing) return error(res, 'ConflictException', 'The requested vocabulary name already exists.');
            if (operation === 'UpdateMedicalVocabulary' && !existing) return error(res, 'NotFoundException', 'The requested vocabulary could not be found.');
            if (existing?.state === 'PENDING') return error(res, 'ConflictException', 'The vocabulary is being processed.');
            if (input.LanguageCode !== 'en-US' || typeof input.VocabularyFileUri !== 'string') return error(res, 'BadRequestException', 'LanguageCode and VocabularyFileUri are required.');
            const table = await options.readFile(input.VocabularyFileUri);
            const v: StandInVocabulary = { name, languageCode: 'en-US', fileUri: input.VocabularyFileUri, state: 'PENDING', ...(table !== undefined ? { table } : {}), puts: (existing?.puts ?? 0) + 1 };
            vocabularies.set(name, v);
            if (options.processAfterMs !== undefined) {
              const t = setTimeout(() => {
                timers.delete(t);
                processOne(v);
              }, options.processAfterMs);
              timers.add(t);
            }
            return ok(describe(v));
          }
          default:
            return error(res, 'BadRequestException', `operation ${operation} not supported by the stand-in`);
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    vocabularies,
    calls,
    process: () => {
      for (const v of vocabularies.values()) processOne(v);
    },
    usable: (name) => vocabularies.get(name)?.state === 'READY',
    close: async () => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
