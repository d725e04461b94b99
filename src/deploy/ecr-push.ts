import type { DeployClients } from './aws-clients.js';
import { runDocker } from './docker.js';
import { DeployError } from './errors.js';

export interface PushOptions {
  repository: string;
  /** A local image built by `docker build`, e.g. `arogya-live:4f2c1ab`. */
  image: string;
  /** The tag to push under; tags are immutable in the repository, so use a new one (the git SHA). */
  tag: string;
  docker: string;
  env: NodeJS.ProcessEnv;
  output: NodeJS.WritableStream;
}

export interface PushResult {
  repositoryUri: string;
  digest: string;
}

/**
 * Pushes a locally built image to ECR and returns its digest: logs docker in with a token from
 * `ecr:GetAuthorizationToken`, tags and pushes the image, then asks ECR for the digest of the tag.
 * @throws DeployError when the repository is missing, docker fails or ECR does not know the tag.
 */
export async function pushImage(clients: DeployClients, opts: PushOptions): Promise<PushResult> {
  const { ecr, ecrSdk } = clients;
  const repo = await ecr
    .send(new ecrSdk.DescribeRepositoriesCommand({ repositoryNames: [opts.repository] }))
    .catch((err: Error) => {
      throw new DeployError(`repository ${opts.repository}: ${err.name}: ${err.message}`);
    });
  const repositoryUri = repo.repositories?.[0]?.repositoryUri;
  if (!repositoryUri) throw new DeployError(`repository ${opts.repository} not found`);

  const auth = await ecr.send(new ecrSdk.GetAuthorizationTokenCommand({}));
  const data = auth.authorizationData?.[0];
  if (!data?.authorizationToken || !data.proxyEndpoint) throw new DeployError('ECR returned no authorization token');
  const [user, password] = Buffer.from(data.authorizationToken, 'base64').toString('utf8').split(':');
  if (!user || !password) throw new DeployError('ECR returned a malformed authorization token');

  const registry = data.proxyEndpoint.replace(/^https?:\/\//, '');
  const target = `${repositoryUri}:${opts.tag}`;
  const dockerOpts = { output: opts.output, env: opts.env };
  await runDocker(opts.docker, ['login', '--username', user, '--password-stdin', registry], { ...dockerOpts, stdin: password });
  await runDocker(opts.docker, ['tag', opts.image, target], dockerOpts);
  await runDocker(opts.docker, ['push', target], dockerOpts);

  const described = await ecr.send(
    new ecrSdk.DescribeImagesCommand({ repositoryName: opts.repository, imageIds: [{ imageTag: opts.tag }] }),
  );
  const digest = described.imageDetails?.[0]?.imageDigest;
  if (!digest) throw new DeployError(`ECR has no image tagged ${opts.tag} after the push`);
  return { repositoryUri, digest };
}
