import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Counters } from '../../src/lib/metrics-hooks.js';
import { ServiceMetrics } from '../../src/metrics/metrics.js';
import { MetricsObserver } from '../../src/metrics/observer.js';

/**
 * The layering the code relies on (README "Layout"), checked by reading the sources: the domain and
 * the adapters import no entry point (http, Express, Socket.IO) and no metrics code (they report
 * through the observer port), and the S3 SDK is imported by the S3 adapter alone (the object-store
 * port), and the engines and audio formats import no domain or storage code. A module that breaks
 * one of these fails here with its file and import.
 */
const root = path.resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true }).flatMap((e) =>
    e.isFile() && e.name.endsWith('.ts') ? [path.relative(root, path.join(e.parentPath, e.name))] : [],
  );
}

/** `file: specifier` for every import of `files` whose specifier matches `pattern`. */
function importsMatching(files: string[], pattern: RegExp): string[] {
  return files.flatMap((file) =>
    [...fs.readFileSync(path.join(root, file), 'utf8').matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm)]
      .map((m) => m[1]!)
      .filter((spec) => pattern.test(spec))
      .map((spec) => `${file}: ${spec}`),
  );
}

describe('layers', () => {
  it('the domain and the adapters import no metrics code and no HTTP or Socket.IO', () => {
    const inner = ['src/dictation', 'src/recordings', 'src/transcription', 'src/storage', 'src/vocabulary', 'src/db'].flatMap(sources);
    expect(inner.length).toBeGreaterThan(30);
    expect(importsMatching(inner, /^\.\.\/(metrics|http)\/|^(express|socket\.io)$/)).toEqual([]);
  });

  it('the engines and the audio formats import no domain or storage code', () => {
    // Audio formats (decoding, Ogg writing) sit under every layer that moves audio: the engines use
    // them, and never the recordings, the dictation domain or the database.
    const lower = ['src/transcription', 'src/audio'].flatMap(sources);
    expect(importsMatching(lower, /^(\.\.\/)+(recordings|dictation|db|storage)\//)).toEqual([]);
  });

  it('only the S3 adapter imports the S3 SDK', () => {
    expect(importsMatching(sources('src'), /^@aws-sdk\/client-s3$/)).toEqual(['src/storage/s3.ts: @aws-sdk/client-s3']);
  });
});

describe('MetricsObserver (the domain observer port on metrics/)', () => {
  it('counts into the in-process counters and Prometheus, and meters each session it is told of', async () => {
    const metrics = new ServiceMetrics();
    try {
      const counters = new Counters(metrics.hooks());
      const observer = new MetricsObserver(counters, metrics);
      observer.inc('session_resumes_total', { where: 'local' });
      observer.inc('audio_gap_ms_total', {}, 250);
      observer.sessionStarted();
      observer.sessionStarted();
      expect(counters.get('session_resumes_total', { where: 'local' })).toBe(1);
      expect(counters.get('audio_gap_ms_total')).toBe(250);
      const text = await metrics.render();
      expect(text).toMatch(/^arogya_session_resumes_total\{where="local"\} 1$/m);
      expect(text).toMatch(/^arogya_sessions_started_total 2$/m);
    } finally {
      metrics.close();
    }
  });
});
