import type { Logger } from '../../../lib/logger.js';

/**
 * The configuration of every Transcribe SDK client here (streaming and the vocabularies' control
 * plane): region, the optional endpoint and credentials of tests, and a logger. Without a logger
 * the SDK writes some warnings to the console; we report failures ourselves, so its own lines go
 * to debug as fixed events (never its text, which can carry request details).
 */
export function awsClientConfig(
  o: { region: string; endpoint?: string | undefined; credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined },
  log: Logger,
) {
  return {
    region: o.region,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
    logger: { trace: () => {}, debug: () => {}, info: () => {}, warn: () => log.debug('aws_sdk_warning'), error: () => log.debug('aws_sdk_error') },
  };
}
