import type { TranscribeClient } from '@aws-sdk/client-transcribe';
import type { Logger } from '../../../lib/logger.js';
import type { VocabularyPublisher, VocabularyStatus } from '../../../vocabulary/service.js';
import { awsClientConfig } from './client-config.js';

export interface TranscribeVocabulariesOptions {
  /** The region of the streams (AWS_TRANSCRIBE_REGION): a vocabulary is usable only there. */
  region: string;
  /** Tests; the SDK also honours AWS_ENDPOINT_URL_TRANSCRIBE. */
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

type Sdk = typeof import('@aws-sdk/client-transcribe');

/**
 * Transcribe Medical's custom vocabularies (the control-plane API, not streaming): creates or
 * replaces a table-format medical vocabulary from a file in S3 and reads its state. The SDK loads
 * on first use. Errors are the SDK's (the caller records them as a FAILED state).
 */
export function createTranscribeVocabularies(options: TranscribeVocabulariesOptions, logger: Logger): VocabularyPublisher {
  const log = logger.child({ component: 'transcribe-vocabularies' });
  let loading: Promise<{ sdk: Sdk; client: TranscribeClient }> | undefined;
  const clientOnce = () => {
    loading ??= import('@aws-sdk/client-transcribe').then((sdk) => ({ sdk, client: new sdk.TranscribeClient(awsClientConfig(options, log)) }));
    return loading;
  };
  const status = (r: { VocabularyState?: string; FailureReason?: string }): VocabularyStatus => ({
    state: r.VocabularyState === 'READY' ? 'READY' : r.VocabularyState === 'FAILED' ? 'FAILED' : 'PENDING',
    ...(r.FailureReason ? { failure: r.FailureReason.slice(0, 500) } : {}),
  });
  const isNotFound = (err: unknown) => (err as { name?: string }).name === 'NotFoundException';

  return {
    async put(name, fileUri) {
      const { sdk, client } = await clientOnce();
      const input = { VocabularyName: name, LanguageCode: 'en-US' as const, VocabularyFileUri: fileUri };
      try {
        await client.send(new sdk.GetMedicalVocabularyCommand({ VocabularyName: name }));
      } catch (err) {
        if (!isNotFound(err)) throw err;
        return status(await client.send(new sdk.CreateMedicalVocabularyCommand(input)));
      }
      return status(await client.send(new sdk.UpdateMedicalVocabularyCommand(input)));
    },
    async state(name) {
      const { sdk, client } = await clientOnce();
      try {
        return status(await client.send(new sdk.GetMedicalVocabularyCommand({ VocabularyName: name })));
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async close() {
      if (loading) (await loading).client.destroy();
      loading = undefined;
    },
  };
}
