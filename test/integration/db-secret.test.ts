import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/db.js';
import { startSecretsManagerStandIn } from '../support/secrets-manager-stand-in.js';
import { startTestService } from '../support/service.js';

const awsEnv = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'eu-west-2' };
const saved: Record<string, string | undefined> = {};

describe('DB_SECRET_ID', () => {
  let sm: Awaited<ReturnType<typeof startSecretsManagerStandIn>>;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    const u = new URL(db.url);
    sm = await startSecretsManagerStandIn({
      'prod/arogya/db': JSON.stringify({
        username: decodeURIComponent(u.username),
        password: decodeURIComponent(u.password),
        engine: 'postgres',
        host: u.hostname,
        port: Number(u.port),
        dbname: u.pathname.slice(1),
      }),
      'broken/secret': '{"username": "x"}',
    });
    // The SDK reads these from the process environment, as it does in production.
    for (const [k, v] of Object.entries({ ...awsEnv, AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.url })) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await sm?.close();
    await db?.drop();
  });

  it('reads RDS-shaped credentials from Secrets Manager and serves healthy', async () => {
    const t = await startTestService({ DATABASE_URL: '', DB_SECRET_ID: 'prod/arogya/db', AWS_REGION: 'eu-west-2' }, {}, { url: '' });
    try {
      const health = await t.client().get('/health');
      expect(health.status).toBe(200);
      const { http } = await t.loggedIn('clinician');
      expect((await http.get('/api/auth/me')).status).toBe(200);
      expect(sm.requests[0]).toMatchObject({ target: 'secretsmanager.GetSecretValue', body: { SecretId: 'prod/arogya/db' } });
      expect(sm.requests[0]!.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=test\/\d+\/eu-west-2\/secretsmanager\//);
      // The credentials never reach the logs.
      expect(t.logs.text()).not.toContain(decodeURIComponent(new URL(db.url).password));
    } finally {
      await t.close();
    }
  });

  it('fails start-up with a message naming the secret and the missing fields, not their values', async () => {
    await expect(startTestService({ DATABASE_URL: '', DB_SECRET_ID: 'broken/secret' }, {}, { url: '' })).rejects.toThrow(
      /broken\/secret lacks password, host/,
    );
  });

  it('fails start-up when the secret does not exist', async () => {
    await expect(startTestService({ DATABASE_URL: '', DB_SECRET_ID: 'missing/secret' }, {}, { url: '' })).rejects.toThrow(
      /can't find the specified secret/,
    );
  });
});
