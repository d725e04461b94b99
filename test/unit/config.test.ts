import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('uses embedded defaults when nothing is set', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(3000);
    expect(c.embeddedDatabase).toBe(true);
    expect(c.embeddedStorage).toBe(true);
    expect(c.TRANSCRIBE_ENGINE).toBe('local');
    expect(c.MAX_SESSIONS).toBe(100);
    expect(c.IDLE_TIMEOUT_MS).toBe(300_000);
    expect(c.MAX_SESSION_MS).toBe(1_800_000);
  });

  it('lists every problem at once', () => {
    try {
      loadConfig({ PORT: 'abc', TRANSCRIBE_ENGINE: 'whisper', MAX_SESSIONS: '0' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toMatch(/PORT/);
      expect(problems).toMatch(/TRANSCRIBE_ENGINE/);
      expect(problems).toMatch(/MAX_SESSIONS/);
    }
  });

  it('requires a strong SESSION_SECRET in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/SESSION_SECRET/);
    expect(() => loadConfig({ NODE_ENV: 'production', SESSION_SECRET: 'short' })).toThrow(/32 characters/);
  });

  it('refuses the embedded database and store in production or inside ECS, unless allowed for a demo', () => {
    const secret = { SESSION_SECRET: 'x'.repeat(32) };
    for (const env of [{ NODE_ENV: 'production' }, { ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/abc' }]) {
      expect(() => loadConfig({ ...secret, ...env })).toThrow(/DB_SECRET_ID or DATABASE_URL[\s\S]*S3_BUCKET/);
      expect(() => loadConfig({ ...secret, ...env, DB_SECRET_ID: 'db' })).toThrow(/S3_BUCKET/);
      expect(loadConfig({ ...secret, ...env, DB_SECRET_ID: 'db', S3_BUCKET: 'b' }).embeddedStorage).toBe(false);
      expect(loadConfig({ ...secret, ...env, ALLOW_EMBEDDED_IN_PRODUCTION: 'true' }).embeddedDatabase).toBe(true);
    }
    expect(loadConfig({}).embeddedDatabase).toBe(true);
  });

  it('runs Transcribe in AWS_TRANSCRIBE_REGION, AWS_REGION by default', () => {
    expect(loadConfig({ AWS_REGION: 'ap-south-1' }).AWS_TRANSCRIBE_REGION).toBe('ap-south-1');
    expect(loadConfig({ AWS_REGION: 'ap-south-1', AWS_TRANSCRIBE_REGION: 'ap-southeast-1' }).AWS_TRANSCRIBE_REGION).toBe('ap-southeast-1');
  });

  it('fails over to the offline engine by default only when the primary is Transcribe', () => {
    expect(loadConfig({}).fallbackEngine).toBe('none');
    expect(loadConfig({ TRANSCRIBE_ENGINE: 'aws' }).fallbackEngine).toBe('local');
    expect(loadConfig({ TRANSCRIBE_ENGINE: 'aws', TRANSCRIBE_FALLBACK: 'none' }).fallbackEngine).toBe('none');
    expect(() => loadConfig({ TRANSCRIBE_FALLBACK: 'whisper' })).toThrow(/TRANSCRIBE_FALLBACK/);
  });

  it('keeps the resume grace period within the idle timeout', () => {
    expect(loadConfig({}).RESUME_GRACE_MS).toBe(120_000);
    expect(loadConfig({ IDLE_TIMEOUT_MS: '600' }).RESUME_GRACE_MS).toBe(600);
    expect(() => loadConfig({ IDLE_TIMEOUT_MS: '600', RESUME_GRACE_MS: '1000' })).toThrow(/RESUME_GRACE_MS/);
    expect(() => loadConfig({ ENGINE_BACKOFF_BASE_MS: '9000' })).toThrow(/ENGINE_BACKOFF_BASE_MS/);
  });

  it('bounds concurrent recording part uploads at 4 by default, and at no fewer than 1', () => {
    expect(loadConfig({}).RECORDING_UPLOAD_CONCURRENCY).toBe(16);
    expect(loadConfig({ RECORDING_UPLOAD_CONCURRENCY: '12' }).RECORDING_UPLOAD_CONCURRENCY).toBe(12);
    expect(() => loadConfig({ RECORDING_UPLOAD_CONCURRENCY: '0' })).toThrow(/RECORDING_UPLOAD_CONCURRENCY/);
    expect(() => loadConfig({ RECORDING_UPLOAD_CONCURRENCY: '2.5' })).toThrow(/RECORDING_UPLOAD_CONCURRENCY/);
  });

  it('allows 4 live sessions per user by default, and no fewer than 1', () => {
    expect(loadConfig({}).MAX_SESSIONS_PER_USER).toBe(4);
    expect(loadConfig({ MAX_SESSIONS_PER_USER: '1' }).MAX_SESSIONS_PER_USER).toBe(1);
    expect(loadConfig({ MAX_SESSIONS_PER_USER: '10' }).MAX_SESSIONS_PER_USER).toBe(10);
    expect(() => loadConfig({ MAX_SESSIONS_PER_USER: '0' })).toThrow(/MAX_SESSIONS_PER_USER/);
    expect(() => loadConfig({ MAX_SESSIONS_PER_USER: '1.5' })).toThrow(/MAX_SESSIONS_PER_USER/);
  });

  it('refuses DATABASE_URL together with DB_SECRET_ID', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://x', DB_SECRET_ID: 'arn' })).toThrow(/set one/);
  });
});

describe('.env.example', () => {
  it('documents every configuration variable', async () => {
    const fs = await import('node:fs');
    const { configSchema } = await import('../../src/config.js');
    const example = fs.readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    for (const key of Object.keys(configSchema.shape)) expect(example, key).toMatch(new RegExp(`^${key}=`, 'm'));
  });
});
