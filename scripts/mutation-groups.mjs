// @ts-check
/**
 * Mutation-testing groups (stryker.config.mjs, `npm run test:mutation`): the modules each group
 * mutates and the fast unit tests that must catch the mutants.
 */
/** @type {Record<string, { mutate: string[]; tests: string[] }>} */
export const groups = {
  'audio-resampler': { mutate: ['src/audio/resampler.ts'], tests: ['test/unit/audio/resampler.test.ts'] },
  'audio-level': { mutate: ['src/audio/level.ts'], tests: ['test/unit/audio/level.test.ts', 'test/unit/audio/framer-level.test.ts'] },
  'audio-opus-packet': { mutate: ['src/audio/opus-packet.ts'], tests: ['test/unit/audio/opus-packet.test.ts'] },
  'audio-ogg-demuxer': { mutate: ['src/audio/ogg-demuxer.ts'], tests: ['test/unit/audio/ogg-demuxer.test.ts'] },
  'audio-webm-demuxer': { mutate: ['src/audio/webm-demuxer.ts'], tests: ['test/unit/audio/webm-demuxer.test.ts'] },
  'audio-framer': { mutate: ['src/audio/framer.ts', 'src/audio/pcm.ts'], tests: ['test/unit/audio/framer.test.ts', 'test/unit/audio/framer-level.test.ts'] },
  'audio-wav': { mutate: ['src/audio/wav.ts'], tests: ['test/unit/audio/wav.test.ts'] },
  'audio-ogg-opus': { mutate: ['src/audio/ogg-opus.ts'], tests: ['test/unit/recordings-formats.test.ts', 'test/unit/recordings/ogg-opus.test.ts'] },
  'recordings-wav': { mutate: ['src/recordings/wav.ts'], tests: ['test/unit/recordings-formats.test.ts', 'test/unit/recordings/wav.test.ts'] },
  'recordings-range': { mutate: ['src/recordings/range.ts'], tests: ['test/unit/recordings-formats.test.ts', 'test/unit/recordings/range.test.ts'] },
  'recordings-spool': { mutate: ['src/recordings/spool.ts'], tests: ['test/unit/recordings-formats.test.ts', 'test/unit/recordings/spool.test.ts'] },
  export: { mutate: ['src/transcripts/export/*.ts'], tests: ['test/unit/export-formats.test.ts', 'test/unit/export/*.test.ts'] },
  'partial-filter': { mutate: ['src/dictation/partial-filter.ts'], tests: ['test/unit/partial-filter.test.ts', 'test/unit/partial-filter-throttle.test.ts'] },
  'replay-ring': { mutate: ['src/transcription/replay-ring.ts'], tests: ['test/unit/transcription/replay-ring.test.ts'] },
  'result-queue': { mutate: ['src/transcription/result-queue.ts'], tests: ['test/unit/transcription/engine-parts.test.ts', 'test/unit/transcription/result-queue.test.ts'] },
  config: { mutate: ['src/config.ts'], tests: ['test/unit/config.test.ts', 'test/unit/config-checks.test.ts'] },
};
