import type { ECRClient } from '@aws-sdk/client-ecr';
import type { ECSClient } from '@aws-sdk/client-ecs';

/** The AWS SDK modules, loaded on first use so the rest of the CLI never pays for them. */
export type EcsSdk = typeof import('@aws-sdk/client-ecs');
export type EcrSdk = typeof import('@aws-sdk/client-ecr');

export interface DeployClients {
  ecs: ECSClient;
  ecr: ECRClient;
  ecsSdk: EcsSdk;
  ecrSdk: EcrSdk;
}

/**
 * Builds ECS and ECR clients from the given environment (not `process.env`, so callers and tests
 * decide): `AWS_REGION`, `AWS_ENDPOINT_URL_ECS` / `AWS_ENDPOINT_URL_ECR` (or `AWS_ENDPOINT_URL`) and,
 * when `AWS_ACCESS_KEY_ID` is set, static credentials; otherwise the SDK's default credential chain.
 */
export async function createDeployClients(env: NodeJS.ProcessEnv): Promise<DeployClients> {
  const [ecsSdk, ecrSdk] = await Promise.all([import('@aws-sdk/client-ecs'), import('@aws-sdk/client-ecr')]);
  const region = env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  const credentials =
    env['AWS_ACCESS_KEY_ID'] && env['AWS_SECRET_ACCESS_KEY']
      ? {
          accessKeyId: env['AWS_ACCESS_KEY_ID'],
          secretAccessKey: env['AWS_SECRET_ACCESS_KEY'],
          ...(env['AWS_SESSION_TOKEN'] ? { sessionToken: env['AWS_SESSION_TOKEN'] } : {}),
        }
      : undefined;
  const common = { ...(region ? { region } : {}), ...(credentials ? { credentials } : {}), maxAttempts: 5 };
  const ecsEndpoint = env['AWS_ENDPOINT_URL_ECS'] ?? env['AWS_ENDPOINT_URL'];
  const ecrEndpoint = env['AWS_ENDPOINT_URL_ECR'] ?? env['AWS_ENDPOINT_URL'];
  return {
    ecsSdk,
    ecrSdk,
    ecs: new ecsSdk.ECSClient({ ...common, ...(ecsEndpoint ? { endpoint: ecsEndpoint } : {}) }),
    ecr: new ecrSdk.ECRClient({ ...common, ...(ecrEndpoint ? { endpoint: ecrEndpoint } : {}) }),
  };
}
