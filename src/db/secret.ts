import { z } from 'zod';

/** The JSON shape RDS writes into its Secrets Manager secrets. */
const rdsSecretSchema = z.object({
  username: z.string().min(1),
  password: z.string().min(1),
  host: z.string().min(1),
  port: z.coerce.number().int().positive().default(5432),
  dbname: z.string().min(1).optional(),
  engine: z.string().optional(),
});

export interface DatabaseCredentials {
  user: string;
  password: string;
  host: string;
  port: number;
  database?: string;
}

/**
 * Reads RDS-shaped credentials from Secrets Manager. The SDK honours
 * `AWS_ENDPOINT_URL_SECRETS_MANAGER`, so a local stand-in can answer in tests.
 *
 * @throws Error naming the secret (never its value) when it is missing or malformed.
 */
export async function readDatabaseSecret(secretId: string, region: string): Promise<DatabaseCredentials> {
  const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  const client = new SecretsManagerClient({ region });
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (!out.SecretString) throw new Error(`Secret ${secretId} has no SecretString`);
    let json: unknown;
    try {
      json = JSON.parse(out.SecretString);
    } catch {
      throw new Error(`Secret ${secretId} is not JSON`);
    }
    const parsed = rdsSecretSchema.safeParse(json);
    if (!parsed.success) {
      throw new Error(`Secret ${secretId} lacks ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`);
    }
    const s = parsed.data;
    return { user: s.username, password: s.password, host: s.host, port: s.port, database: s.dbname };
  } finally {
    client.destroy();
  }
}
