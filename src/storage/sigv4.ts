import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** How far a request's `x-amz-date` may be from now, as S3 allows. */
const MAX_SKEW_MS = 15 * 60_000;

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/\s]+)\/(\d{8})\/([^/\s]+)\/([^/\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves `!'()*`). */
const encode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * Whether a request carries a valid AWS Signature Version 4 `Authorization` header for this key
 * pair (S3 flavour: the path is signed as sent, not encoded again). Only the header form: presigned
 * URLs and SigV2 are refused, the service uses neither. The body is not hashed here: the signature
 * covers the `x-amz-content-sha256` the client declared, like every other signed header.
 */
export function verifySigV4(
  req: { method?: string | undefined; url?: string | undefined; headers: IncomingHttpHeaders },
  credentials: { accessKeyId: string; secretAccessKey: string },
  now = Date.now(),
): boolean {
  const auth = req.headers.authorization;
  const m = typeof auth === 'string' ? AUTH.exec(auth) : null;
  if (!m) return false;
  const [, keyId, day, region, service, signedList, signature] = m as unknown as [string, string, string, string, string, string, string];
  if (keyId !== credentials.accessKeyId || service !== 's3') return false;
  const amzDate = req.headers['x-amz-date'];
  if (typeof amzDate !== 'string' || !/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== day) return false;
  const at = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8), +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
  if (Math.abs(now - at) > MAX_SKEW_MS) return false;
  const signed = signedList.split(';');
  if (!signed.includes('host')) return false;
  const headerLines: string[] = [];
  for (const name of signed) {
    const value = req.headers[name];
    if (value === undefined) return false;
    headerLines.push(`${name}:${(Array.isArray(value) ? value.join(',') : value).trim().replace(/\s+/g, ' ')}`);
  }
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = [...new URLSearchParams(q < 0 ? '' : url.slice(q + 1))]
    .map(([k, v]) => [encode(k), encode(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const payloadHash = req.headers['x-amz-content-sha256'];
  const canonical = [req.method ?? 'GET', path, query, ...headerLines, '', signedList, typeof payloadHash === 'string' ? payloadHash : createHash('sha256').update('').digest('hex')].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${credentials.secretAccessKey}`).update(day).digest();
  for (const part of [region, service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  const expected = createHmac('sha256', key).update(toSign).digest();
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}
