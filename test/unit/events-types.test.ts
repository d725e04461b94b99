/**
 * The Socket.IO event map (src/realtime/events.ts) at the type level: the acks API.md promises, the
 * edge's parsed payloads against the map, the domain's sink against the server events, and the test
 * client against the map. Checked by `npm run typecheck` (tsc reads test/); at run time these
 * assertions do nothing, so a drift fails the typecheck, not this file's run.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type { EndReason, LiveSessionInfo, NoticeCode, SessionSink, StartRequest } from '../../src/dictation/types.js';
import type { ErrorCode } from '../../src/lib/app-error.js';
import type { AckResponse, AckResult, ClientToServerEvents, EventName, EventPayload, Failure, ServerToClientEvents } from '../../src/realtime/events.js';
import type { ParsedPayloads, parsePayload } from '../../src/realtime/payloads.js';
import type { DictationClient, ServerEvent } from '../support/dictation-client.js';

type Ledger = { ackSeq: number; durableSeq?: number };
declare const client: DictationClient;
/** `A & B` as one object type, so it compares equal to the same fields written out. */
type Flat<T> = { [K in keyof T]: T[K] };

describe('the event map (types only, checked by npm run typecheck)', () => {
  it('has exactly the client events API.md and its extensions name', () => {
    expectTypeOf<EventName>().toEqualTypeOf<'session:start' | 'audio:chunk' | 'session:stop' | 'session:resume' | 'audio:gap' | 'session:list'>();
    expectTypeOf<keyof ServerToClientEvents>().toEqualTypeOf<
      'transcript:partial' | 'transcript:final' | 'session:ended' | 'session:error' | 'session:notice' | 'session:level'
    >();
  });

  it('acks each client event with the fields API.md promises, or a Failure', () => {
    expectTypeOf<AckResult<'session:start'>>().toEqualTypeOf<{ sessionId: string; transcriptionId: string }>();
    expectTypeOf<AckResult<'audio:chunk'>>().toEqualTypeOf<Ledger>();
    expectTypeOf<AckResult<'session:stop'>>().toEqualTypeOf<{ transcriptionId: string; durationMs: number }>();
    expectTypeOf<AckResult<'session:resume'>>().toEqualTypeOf<Ledger>();
    expectTypeOf<AckResult<'audio:gap'>>().toEqualTypeOf<Ledger>();
    expectTypeOf<AckResult<'session:list'>>().toEqualTypeOf<{ sessions: LiveSessionInfo[] }>();
    expectTypeOf<Extract<AckResponse<'session:stop'>, { ok: false }>>().toEqualTypeOf<Failure>();
    expectTypeOf<Failure['error']['code']>().toEqualTypeOf<ErrorCode>();
  });

  it('takes the payloads API.md describes', () => {
    expectTypeOf<EventPayload<'session:stop'>>().toEqualTypeOf<{ sessionId: string }>();
    expectTypeOf<EventPayload<'session:resume'>>().toEqualTypeOf<{ sessionId: string; lastSeq?: number }>();
    expectTypeOf<EventPayload<'audio:chunk'>['data']>().toEqualTypeOf<Buffer | ArrayBuffer | Uint8Array>();
    expectTypeOf<EventPayload<'session:start'>['audio']['encoding']>().toEqualTypeOf<'pcm_s16le' | 'webm_opus' | 'ogg_opus'>();
  });

  it('parses each payload at the edge into something the map allows (the domain gets no raw input)', () => {
    expectTypeOf<{ [E in EventName]: ParsedPayloads[E] extends EventPayload<E> ? true : false }>().toEqualTypeOf<{ [E in EventName]: true }>();
    expectTypeOf<ReturnType<(typeof parsePayload)['session:start']>>().toEqualTypeOf<StartRequest>();
    expectTypeOf<ReturnType<(typeof parsePayload)['audio:chunk']>['data']>().toEqualTypeOf<Buffer>();
    expectTypeOf<(typeof parsePayload)['session:stop']>().parameter(0).toBeUnknown();
  });

  it('carries what the domain reports: sink payloads plus sessionId are the server events', () => {
    type Sent<E extends keyof ServerToClientEvents> = Parameters<ServerToClientEvents[E]>[0];
    type Told<K extends keyof SessionSink> = Parameters<SessionSink[K]>[0];
    expectTypeOf<Sent<'transcript:partial'>>().toEqualTypeOf<Flat<{ sessionId: string } & Told<'partial'>>>();
    expectTypeOf<Sent<'transcript:final'>>().toEqualTypeOf<Flat<{ sessionId: string } & Told<'final'>>>();
    expectTypeOf<Sent<'session:ended'>['reason']>().toEqualTypeOf<EndReason>();
    expectTypeOf<Sent<'session:notice'>>().toEqualTypeOf<{ sessionId: string; code: NoticeCode; message: string }>();
    // No free-form codes: a client can switch on every one of them.
    expectTypeOf<Sent<'session:error'>['code']>().toEqualTypeOf<ErrorCode | NoticeCode>();
    expectTypeOf<'some_new_code'>().not.toExtend<Sent<'session:error'>['code']>();
    // A notice is never fatal, a fatal problem never a notice code only.
    expectTypeOf<Extract<Told<'error'>, { fatal: false }>['code']>().toEqualTypeOf<NoticeCode>();
    expectTypeOf<Extract<Told<'error'>, { fatal: true }>['code']>().toEqualTypeOf<ErrorCode>();
  });

  it('types the test client (and the bench) by the map', () => {
    expectTypeOf<typeof client.request<'session:stop'>>().parameters.toEqualTypeOf<[event: 'session:stop', payload: { sessionId: string }, timeoutMs?: number]>();
    expectTypeOf<typeof client.request<'audio:gap'>>().returns.resolves.toEqualTypeOf<AckResponse<'audio:gap'>>();
    expectTypeOf<ServerEvent<'session:notice'>>().toEqualTypeOf<Parameters<ServerToClientEvents['session:notice']>[0]>();
    expectTypeOf<ClientToServerEvents['session:list']>().parameter(0).toEqualTypeOf<Record<string, never>>();
  });
});
