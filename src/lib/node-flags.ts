/**
 * V8 options the service runs with: `npm start`, `npm run start:built`, the Docker image's CMD and
 * the benchmark's service (test/unit/dockerfile.test.ts keeps them in step).
 *
 * A task that has just started, or that takes over the sessions of a task that died, gets the first
 * chunks of 100 sessions in the same second on code V8 has not optimised yet: by default a function
 * is compiled by Maglev after 400 calls and by TurboFan after 3,000, so that second runs on the
 * interpreter and almost every ack in it is late. Tiering up after 50 and 500 calls, at 100 sessions
 * on a quiet 2-core machine: acks over 50 ms in the first second 440 of 500 -> 129-293, first-5-s ack
 * p99 135 -> 70-101 ms, whole-run p99 99 -> 39-57 ms, CPU no higher (`npm run bench -- --sessions 100
 * --seconds 60 --engine aws`, BENCHMARKS.md).
 */
export const SERVICE_V8_FLAGS = ['--invocation-count-for-maglev=50', '--invocation-count-for-turbofan=500'] as const;
