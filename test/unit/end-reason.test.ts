import { describe, expect, it } from 'vitest';
import { FINALISED_NOTE } from '../../src/dictation/abandoned-sessions.js';
import { endReasonOf } from '../../src/transcripts/end-reason.js';

describe('endReasonOf (the end reason the pages show)', () => {
  it.each([
    [['recording', null, null], null],
    [['completed', 'stopped', null], 'stopped'],
    [['completed', 'error', 'client_gone'], 'client_gone'],
    [['completed', 'idle_timeout', null], 'idle_timeout'],
    [['completed', 'max_duration', null], 'max_duration'],
    [['completed', 'server_shutdown', null], 'server_shutdown'],
    [['completed', 'error', 'transcriber_unavailable'], 'failed'],
    [['completed', 'error', 'invalid_audio'], 'failed'],
    [['failed', 'error', 'recording_not_saved'], 'failed'],
    [['failed', 'error', 'interrupted'], 'failed'],
    [['completed', 'error', 'interrupted'], 'repaired'],
    [['completed', 'error', 'server stopped unexpectedly; no audio had been received'], 'repaired'],
    [['completed', 'error', FINALISED_NOTE], 'repaired'],
  ] as const)('%j → %s', ([status, end, failure], expected) => {
    expect(endReasonOf(status, end, failure)).toBe(expected);
  });
});
