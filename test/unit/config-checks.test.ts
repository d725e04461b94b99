import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

/** The problems loadConfig reports for `env`, or [] when it accepts it. */
function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
}

const SECRET32 = 'x'.repeat(32);

describe('loadConfig cross-checks', () => {
  it('lists every cross-check problem at once, in a readable message', () => {
    const env = { DATABASE_URL: 'postgres://db', DB_SECRET_ID: 'arn:db', SESSION_SECRET: 'short', METRICS_TOKEN: 'tok', IDLE_TIMEOUT_MS: '2000', MAX_SESSION_MS: '1000', ENGINE_BACKOFF_BASE_MS: '10', ENGINE_BACKOFF_MAX_MS: '5' };
    expect(problems(env)).toEqual([
      'DATABASE_URL and DB_SECRET_ID: set one, not both',
      'SESSION_SECRET: at least 32 characters',
      'METRICS_TOKEN: at least 16 characters',
      'IDLE_TIMEOUT_MS: must not exceed MAX_SESSION_MS',
      'ENGINE_BACKOFF_BASE_MS: must not exceed ENGINE_BACKOFF_MAX_MS',
    ]);
    expect(() => loadConfig(env)).toThrow('Invalid configuration:\n  - DATABASE_URL and DB_SECRET_ID: set one, not both\n  - SESSION_SECRET');
  });

  it('accepts each limit exactly at its bound', () => {
    expect(problems({ SESSION_SECRET: SECRET32, METRICS_TOKEN: 'm'.repeat(16), IDLE_TIMEOUT_MS: '1000', MAX_SESSION_MS: '1000', RESUME_GRACE_MS: '1000', ENGINE_BACKOFF_BASE_MS: '300', ENGINE_BACKOFF_MAX_MS: '300' })).toEqual([]);
    expect(problems({ SESSION_SECRET: SECRET32.slice(1) })).toEqual(['SESSION_SECRET: at least 32 characters']);
    expect(problems({ METRICS_TOKEN: 'm'.repeat(15) })).toEqual(['METRICS_TOKEN: at least 16 characters']);
    expect(problems({ IDLE_TIMEOUT_MS: '1001', MAX_SESSION_MS: '1000' })).toEqual(['IDLE_TIMEOUT_MS: must not exceed MAX_SESSION_MS']);
    expect(problems({ ENGINE_BACKOFF_BASE_MS: '301', ENGINE_BACKOFF_MAX_MS: '300' })).toEqual(['ENGINE_BACKOFF_BASE_MS: must not exceed ENGINE_BACKOFF_MAX_MS']);
  });

  it('refuses an explicit resume grace above the idle timeout but lets the default follow it down', () => {
    expect(problems({ IDLE_TIMEOUT_MS: '1000', RESUME_GRACE_MS: '1001' })).toEqual(['RESUME_GRACE_MS: must not exceed IDLE_TIMEOUT_MS']);
    expect(loadConfig({ IDLE_TIMEOUT_MS: '1000', RESUME_GRACE_MS: '1000' }).RESUME_GRACE_MS).toBe(1000);
    expect(loadConfig({ IDLE_TIMEOUT_MS: '5000', RESUME_GRACE_MS: '10' }).RESUME_GRACE_MS).toBe(10);
    expect(loadConfig({ IDLE_TIMEOUT_MS: '5000' }).RESUME_GRACE_MS).toBe(5000);
  });

  it('needs a session secret in production only', () => {
    const production = { NODE_ENV: 'production', DATABASE_URL: 'postgres://db', S3_BUCKET: 'bucket' };
    expect(problems(production)).toEqual(['SESSION_SECRET: required in production']);
    expect(problems({ ...production, SESSION_SECRET: SECRET32 })).toEqual([]);
    expect(problems({ NODE_ENV: 'test' })).toEqual([]);
  });
});

describe('loadConfig ALLOWED_ORIGINS', () => {
  it('splits on commas, trims spaces and a trailing slash, and drops empty entries', () => {
    expect(loadConfig({ ALLOWED_ORIGINS: ' https://a.example/ , https://b.example:8443,, http://localhost:3000 ' }).allowedOrigins).toEqual([
      'https://a.example',
      'https://b.example:8443',
      'http://localhost:3000',
    ]);
  });

  it('is empty (same host as the request) when unset or blank', () => {
    expect(loadConfig({}).allowedOrigins).toEqual([]);
    expect(loadConfig({ ALLOWED_ORIGINS: '  ' }).allowedOrigins).toEqual([]);
    expect(loadConfig({ ALLOWED_ORIGINS: ',' }).allowedOrigins).toEqual([]);
  });
});

describe('loadConfig values', () => {
  it('uses these defaults for the string settings', () => {
    expect(loadConfig({})).toMatchObject({
      NODE_ENV: 'development',
      DATA_DIR: './.data',
      LOG_LEVEL: 'info',
      DB_NAME: 'arogya',
      DB_SSL: 'disable',
      S3_PREFIX: 'recordings/',
      AWS_REGION: 'us-east-1',
      TRANSCRIBE_ENGINE: 'local',
      TRUST_PROXY: 'loopback',
      COOKIE_SECURE: 'auto',
      embeddedDatabase: true,
      embeddedStorage: true,
      fallbackEngine: 'none',
    });
  });

  it('makes DATA_DIR absolute', () => {
    expect(loadConfig({ DATA_DIR: 'rel/dir' }).dataDir).toBe(path.resolve('rel/dir'));
  });

  it('trims optional strings and treats blank as unset', () => {
    const c = loadConfig({ DATABASE_URL: '  postgres://db  ', S3_BUCKET: ' bucket ', DB_SECRET_ID: '   ' });
    expect(c.DATABASE_URL).toBe('postgres://db');
    expect(c.S3_BUCKET).toBe('bucket');
    expect(c.DB_SECRET_ID).toBeUndefined();
    expect(c.embeddedDatabase).toBe(false);
    expect(c.embeddedStorage).toBe(false);
    expect(loadConfig({ DB_SECRET_ID: 'arn:db' }).embeddedDatabase).toBe(false);
  });

  it.each([
    ['NODE_ENV', ['development', 'production', 'test']],
    ['LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']],
    ['DB_SSL', ['disable', 'require', 'verify-full']],
    ['TRANSCRIBE_ENGINE', ['local', 'aws']],
    ['TRANSCRIBE_FALLBACK', ['local', 'none']],
    ['TRANSCRIBE_AUDIO', ['pcm', 'opus']],
    ['COOKIE_SECURE', ['auto', 'true', 'false']],
  ] as const)('accepts every value of %s and nothing else', (key, values) => {
    const base = { SESSION_SECRET: SECRET32, DATABASE_URL: 'postgres://db', S3_BUCKET: 'bucket' };
    for (const v of values) expect(loadConfig({ ...base, [key]: v })[key], v).toBe(v);
    expect(problems({ ...base, [key]: 'other' }).join()).toMatch(new RegExp(`^${key}: `));
  });

  it('reads a boolean setting from true/false, 1/0 and yes/no only', () => {
    const production = { NODE_ENV: 'production', SESSION_SECRET: SECRET32 };
    for (const yes of ['true', '1', 'yes']) expect(loadConfig({ ...production, ALLOW_EMBEDDED_IN_PRODUCTION: yes }).ALLOW_EMBEDDED_IN_PRODUCTION, yes).toBe(true);
    for (const no of ['false', '0', 'no']) expect(loadConfig({ ALLOW_EMBEDDED_IN_PRODUCTION: no }).ALLOW_EMBEDDED_IN_PRODUCTION, no).toBe(false);
    expect(loadConfig({}).ALLOW_EMBEDDED_IN_PRODUCTION).toBe(false);
    expect(problems({ ALLOW_EMBEDDED_IN_PRODUCTION: 'on' }).join()).toMatch(/^ALLOW_EMBEDDED_IN_PRODUCTION: /);
  });

  it('reads integers from strings and refuses fractions, negatives and values under the minimum', () => {
    expect(loadConfig({ PORT: '8080', DB_POOL_MAX: '1', EMBEDDED_PG_PORT: '0' })).toMatchObject({ PORT: 8080, DB_POOL_MAX: 1, EMBEDDED_PG_PORT: 0 });
    expect(problems({ PORT: '-1' })).toHaveLength(1);
    expect(problems({ PORT: '80.5' })).toHaveLength(1);
    expect(problems({ DB_POOL_MAX: '0' })).toHaveLength(1);
    expect(problems({ ENGINE_PROBE_INTERVAL_MS: '99', SESSION_IDLE_MS: '59999', SHUTDOWN_TIMEOUT_MS: '999' }).map((p) => p.split(':')[0])).toEqual([
      'ENGINE_PROBE_INTERVAL_MS',
      'SESSION_IDLE_MS',
      'SHUTDOWN_TIMEOUT_MS',
    ]);
  });
});

describe('loadConfig exact values', () => {
  it('throws a ConfigError named so, each problem as `KEY: message`', () => {
    try {
      loadConfig({ PORT: 'abc' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).name).toBe('ConfigError');
      expect((err as ConfigError).problems).toHaveLength(1);
      expect((err as ConfigError).problems[0]).toMatch(/^PORT: \S/);
    }
  });

  it('keeps the session idle limit within the session age, equal allowed', () => {
    expect(problems({ SESSION_IDLE_MS: '600000', SESSION_MAX_AGE_MS: '600000' })).toEqual([]);
    expect(problems({ SESSION_IDLE_MS: '600001', SESSION_MAX_AGE_MS: '600000' })).toEqual(['SESSION_IDLE_MS: must not exceed SESSION_MAX_AGE_MS']);
  });

  it('uses these defaults for the time limits, the listen address and the audio sent to Transcribe', () => {
    expect(loadConfig({})).toMatchObject({
      HOST: '127.0.0.1',
      TRANSCRIBE_AUDIO: 'opus',
      SESSION_IDLE_MS: 28_800_000,
      SESSION_MAX_AGE_MS: 43_200_000,
      LOGIN_WINDOW_MS: 900_000,
      LOGIN_DELAY_MAX_MS: 300_000,
      TRANSCRIBE_VOCABULARY_PREFIX: 'arogya-',
      REPAIR_SPEED: 1,
    });
  });

  it('accepts a vocabulary prefix of up to 150 letters, digits, dots, underscores and dashes only', () => {
    for (const ok of ['', 'a', 'my.clinic_2-', 'p'.repeat(150)]) expect(loadConfig({ TRANSCRIBE_VOCABULARY_PREFIX: ok }).TRANSCRIBE_VOCABULARY_PREFIX, ok).toBe(ok);
    for (const bad of ['p'.repeat(151), 'a b', 'a/b', '/ab', 'ab/']) expect(problems({ TRANSCRIBE_VOCABULARY_PREFIX: bad }).join(), bad).toMatch(/^TRANSCRIBE_VOCABULARY_PREFIX: /);
  });

  it('accepts a repair speed from 0.1 to 100', () => {
    for (const ok of ['0.1', '2.5', '100']) expect(loadConfig({ REPAIR_SPEED: ok }).REPAIR_SPEED, ok).toBe(Number(ok));
    for (const bad of ['0.09', '100.5']) expect(problems({ REPAIR_SPEED: bad }).join(), bad).toMatch(/^REPAIR_SPEED: /);
  });

  it('takes the ECS metadata endpoint trimmed, and blank as none', () => {
    const demo = { ALLOW_EMBEDDED_IN_PRODUCTION: 'true' };
    expect(loadConfig({ ...demo, ECS_CONTAINER_METADATA_URI_V4: ' http://169.254.170.2/v4/abc ' }).ecsMetadataUri).toBe('http://169.254.170.2/v4/abc');
    expect(loadConfig({ ...demo, ECS_CONTAINER_METADATA_URI_V4: '   ' }).ecsMetadataUri).toBeUndefined();
    expect(loadConfig({}).ecsMetadataUri).toBeUndefined();
  });
});
