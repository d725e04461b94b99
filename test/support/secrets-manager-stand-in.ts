import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local Secrets Manager speaking the AWS JSON 1.1 protocol (`X-Amz-Target:
 * secretsmanager.GetSecretValue`), for `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
 */
export async function startSecretsManagerStandIn(secrets: Record<string, string>) {
  const requests: Array<{ target: string; body: Record<string, unknown>; authorization?: string }> = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      requests.push({ target, body, authorization: req.headers.authorization });
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      if (target !== 'secretsmanager.GetSecretValue') {
        res.statusCode = 400;
        return res.end(JSON.stringify({ __type: 'InvalidRequestException', message: `unsupported ${target}` }));
      }
      const id = String(body.SecretId);
      const value = secrets[id];
      if (value === undefined) {
        res.statusCode = 400;
        return res.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." }));
      }
      res.end(JSON.stringify({ ARN: `arn:aws:secretsmanager:us-east-1:000000000000:secret:${id}`, Name: id, SecretString: value, VersionId: 'v1' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
