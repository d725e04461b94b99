import { ProviderError, type StreamOptions, type TranscriptionEngine, type TranscriptionStream, type TranscriptResult } from './port.js';

/**
 * An engine that gives one user at most `maxPerUser` of its streams at a time (streams opened with a
 * `userId`; others, e.g. the repair pass, are not counted). Past it `start` throws a retryable
 * `engine_busy`, as a full engine does: a new session is refused with `transcriber_unavailable`
 * (the page retries), a running session's reopen backs off and retries.
 *
 * Why: engine capacity was first come, first served, and the offline engine's cap is small (10
 * streams on 2 cores), so 3 accounts holding 4 sessions each took every stream (issue 19). With the
 * idle release in the resilient wrapper (a silent session gives its stream back), a user holds
 * engine streams only for sessions that are speaking, and never more than this share.
 */
export function shareByUser(engine: TranscriptionEngine, maxPerUser: number): TranscriptionEngine {
  const held = new Map<string, number>();
  const release = (userId: string) => {
    const n = (held.get(userId) ?? 1) - 1;
    if (n > 0) held.set(userId, n);
    else held.delete(userId);
  };
  return {
    get name() {
      return engine.name;
    },
    ...(engine.acceptsOpus ? { acceptsOpus: true } : {}),
    async start(options: StreamOptions): Promise<TranscriptionStream> {
      const userId = options.userId;
      if (userId === undefined) return engine.start(options);
      // Counted before the await, so simultaneous starts of one user cannot all pass.
      if ((held.get(userId) ?? 0) >= maxPerUser) {
        throw new ProviderError(`this user already holds ${maxPerUser} engine stream(s)`, { retryable: true, code: 'engine_busy' });
      }
      held.set(userId, (held.get(userId) ?? 0) + 1);
      let released = false;
      const done = () => {
        if (released) return;
        released = true;
        release(userId);
      };
      let inner: TranscriptionStream;
      try {
        inner = await engine.start(options);
      } catch (err) {
        done();
        throw err;
      }
      const stream: TranscriptionStream = {
        write: (pcm) => inner.write(pcm),
        end: () => inner.end().finally(done),
        abort: (reason) => {
          done();
          inner.abort(reason);
        },
        [Symbol.asyncIterator]: (): AsyncIterator<TranscriptResult> => {
          const it = inner[Symbol.asyncIterator]();
          return {
            next: async () => {
              try {
                const r = await it.next();
                if (r.done) done();
                return r;
              } catch (err) {
                done();
                throw err;
              }
            },
            return: async (value?: unknown) => {
              done();
              return (await it.return?.(value)) ?? { done: true, value: undefined };
            },
          };
        },
      };
      if (inner.backlogMs) stream.backlogMs = () => inner.backlogMs!();
      if (inner.whenBacklogBelow) stream.whenBacklogBelow = (ms) => inner.whenBacklogBelow!(ms);
      if (inner.writeOpus) stream.writeOpus = (packets, head) => inner.writeOpus!(packets, head);
      return stream;
    },
    check: () => engine.check(),
    close: () => engine.close(),
  };
}
