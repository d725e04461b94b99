import { parseArgs } from 'node:util';
import { createDeployClients } from './aws-clients.js';
import type { DeployClients } from './aws-clients.js';
import { pushImage } from './ecr-push.js';
import {
  DEPLOY_TAGS,
  deployHistory,
  describeService,
  describeTaskDefinition,
  imageDigest,
  parseTaskDefinitionArn,
  registerWithImage,
  rollbackTarget,
  tagRevision,
  updateService,
  waitForSteadyState,
  withoutDeployTags,
} from './ecs-service.js';
import type { ServiceRef } from './ecs-service.js';
import { DeployError } from './errors.js';

export interface DeployIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

/** The container the task definition runs the app in (infra/src/fargate-service.ts). */
const DEFAULT_CONTAINER = 'app';

export const DEPLOY_HELP = `Usage: arogya-live deploy <command> [options]

Commands:
  push      --image <local image> --tag <tag> [--repository <name>]
            Log docker in to ECR, tag and push the image, print its digest (sha256:...).
  rollout   --digest <sha256:...> [--repository <name>]
            Register a new revision of the service's task-definition family (its latest revision,
            image replaced by <repository>@<digest>), deploy it and wait for steady state; then
            record the digest as deployed (tags on the revision: the deploy history).
  rollback  [--digest <sha256:...>]
            Deploy the revision of the digest deployed before the running one (or of <digest>),
            from the deploy history, and wait for steady state. Repeated, it goes further back.
  history   Print the deploy history, newest first: steady time, revision, digest.
  status    Print the running revision, its image, task counts and deployments.

Options (defaults from the environment):
  --cluster <name>       DEPLOY_CLUSTER      (terraform output cluster_name)
  --service <name>       DEPLOY_SERVICE      (terraform output service_name)
  --repository <name>    DEPLOY_REPOSITORY   (the last path part of ecr_repository_url)
  --container <name>     container to update (default ${DEFAULT_CONTAINER})
  --timeout <seconds>    how long to wait for steady state (default 1800)
  --poll <seconds>       how often to look (default 15)
  --no-wait              return after starting the deployment
AWS: AWS_REGION, AWS_PROFILE or AWS_ACCESS_KEY_ID/..., AWS_ENDPOINT_URL_ECS, AWS_ENDPOINT_URL_ECR.
Docker: DOCKER (default docker).
Exit codes: 0 done, 1 failed (the reason is printed), 2 bad usage.
`;

class UsageError extends Error {}

const OPTIONS = {
  cluster: { type: 'string' },
  service: { type: 'string' },
  repository: { type: 'string' },
  container: { type: 'string' },
  image: { type: 'string' },
  tag: { type: 'string' },
  digest: { type: 'string' },
  revision: { type: 'string' },
  timeout: { type: 'string' },
  poll: { type: 'string' },
  'no-wait': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function required(value: string | undefined, flag: string, envName?: string): string {
  if (value && value.trim() !== '') return value.trim();
  throw new UsageError(`missing --${flag}${envName ? ` (or ${envName})` : ''}`);
}

function seconds(value: string | undefined, flag: string, def: number): number {
  if (value === undefined) return def;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${flag} must be a positive number of seconds`);
  return n;
}

/**
 * `arogya-live deploy push|rollout|rollback|status`: ships images to ECR and task-definition
 * revisions to the ECS service. Returns the exit code; prints help and returns 2 on bad usage.
 */
export async function deployCommand(args: string[], io: DeployIo): Promise<number> {
  let values: Values;
  let command: string | undefined;
  try {
    const parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
    values = parsed.values;
    if (values.help) {
      io.stdout.write(DEPLOY_HELP);
      return 0;
    }
    if (parsed.positionals.length !== 1) throw new UsageError('give exactly one command');
    command = parsed.positionals[0];
    if (!['push', 'rollout', 'rollback', 'history', 'status'].includes(command!)) throw new UsageError(`unknown command ${command}`);
  } catch (err) {
    io.stderr.write(`arogya-live deploy: ${(err as Error).message}\n\n${DEPLOY_HELP}`);
    return 2;
  }

  try {
    const plan = planCommand(command!, values, io.env);
    const clients = await createDeployClients(io.env);
    try {
      await plan(clients, io);
    } finally {
      clients.ecs.destroy();
      clients.ecr.destroy();
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`arogya-live deploy: ${err.message}\n\n${DEPLOY_HELP}`);
      return 2;
    }
    const e = err as Error;
    const message = err instanceof DeployError ? e.message : `${e.name}: ${e.message}`;
    io.stderr.write(`arogya-live deploy ${command}: ${message}\n`);
    return 1;
  }
}

type Plan = (clients: DeployClients, io: DeployIo) => Promise<void>;

/** Validates the options for one command before any AWS call, and returns what to run. */
function planCommand(command: string, v: Values, env: NodeJS.ProcessEnv): Plan {
  const ref = (): ServiceRef => ({
    cluster: required(v.cluster ?? env['DEPLOY_CLUSTER'], 'cluster', 'DEPLOY_CLUSTER'),
    service: required(v.service ?? env['DEPLOY_SERVICE'], 'service', 'DEPLOY_SERVICE'),
  });
  const container = v.container ?? DEFAULT_CONTAINER;
  const wait = {
    timeoutMs: seconds(v.timeout, 'timeout', 1800) * 1000,
    pollMs: seconds(v.poll, 'poll', 15) * 1000,
    skip: v['no-wait'] === true,
  };

  switch (command) {
    case 'push': {
      const repository = required(v.repository ?? env['DEPLOY_REPOSITORY'], 'repository', 'DEPLOY_REPOSITORY');
      const image = required(v.image, 'image');
      const tag = required(v.tag, 'tag');
      return async (clients, io) => {
        const { repositoryUri, digest } = await pushImage(clients, { repository, image, tag, docker: env['DOCKER'] ?? 'docker', env, output: io.stderr });
        io.stderr.write(`pushed ${repositoryUri}:${tag}\n`);
        io.stdout.write(`${digest}\n`);
      };
    }
    case 'rollout': {
      const service = ref();
      const repository = required(v.repository ?? env['DEPLOY_REPOSITORY'], 'repository', 'DEPLOY_REPOSITORY');
      const digest = required(v.digest, 'digest');
      if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new UsageError('--digest must be sha256:<64 hex digits>');
      return async (clients, io) => {
        const found = await clients.ecr.send(
          new clients.ecrSdk.DescribeImagesCommand({ repositoryName: repository, imageIds: [{ imageDigest: digest }] }),
        ).catch((err: Error) => {
          throw new DeployError(`image ${digest} in ${repository}: ${err.name}: ${err.message}`);
        });
        if (!found.imageDetails?.length) throw new DeployError(`image ${digest} is not in ${repository}`);
        const repos = await clients.ecr.send(new clients.ecrSdk.DescribeRepositoriesCommand({ repositoryNames: [repository] }));
        const repositoryUri = repos.repositories?.[0]?.repositoryUri;
        if (!repositoryUri) throw new DeployError(`repository ${repository} not found`);

        const current = await describeService(clients, service);
        const { family } = parseTaskDefinitionArn(current.taskDefinition ?? '');
        // The family's latest revision carries Terraform's newest settings; only the image changes.
        const latest = await describeTaskDefinition(clients, family);
        const tags = [...withoutDeployTags(latest.tags), { key: DEPLOY_TAGS.digest, value: digest }];
        const arn = await registerWithImage(clients, latest.taskDefinition, container, `${repositoryUri}@${digest}`, tags);
        io.stdout.write(`registered ${arn}\n`);
        await updateService(clients, service, arn);
        io.stdout.write(`deploying ${arn} to ${service.cluster}/${service.service}\n`);
        if (wait.skip) {
          io.stdout.write('not recorded in the deploy history (--no-wait): rollback will not return to this revision\n');
          return;
        }
        await waitForSteadyState(clients, service, arn, { ...wait, output: io.stdout });
        // Recorded only once steady: a rollout the circuit breaker failed is never a rollback target.
        await tagRevision(clients, arn, [{ key: DEPLOY_TAGS.steadyAt, value: new Date().toISOString() }]);
        io.stdout.write(`steady: ${arn} runs ${repositoryUri}@${digest} (recorded in the deploy history)\n`);
      };
    }
    case 'rollback': {
      const service = ref();
      const digest = v.digest;
      if (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest)) throw new UsageError('--digest must be sha256:<64 hex digits>');
      if (v.revision !== undefined) throw new UsageError('--revision is gone: rollback goes by image digest (see `deploy history`)');
      return async (clients, io) => {
        const current = await describeService(clients, service);
        const runningArn = current.taskDefinition ?? '';
        const now = parseTaskDefinitionArn(runningArn);
        const running = await describeTaskDefinition(clients, runningArn);
        const runningDigest = imageDigest(running.taskDefinition.containerDefinitions?.find((c) => c.name === container)?.image);
        const history = await deployHistory(clients, now.family);
        const target = rollbackTarget(history, runningArn, runningDigest, digest);
        if (!target) {
          throw new DeployError(
            digest === undefined
              ? `no digest in the deploy history of ${now.family} before ${runningDigest ?? `${now.family}:${now.revision}`} (\`deploy history\` lists it)`
              : `${digest} is not in the deploy history of ${now.family} (\`deploy history\` lists it; \`deploy rollout --digest\` deploys any image)`,
          );
        }
        io.stdout.write(
          `rolling back ${service.cluster}/${service.service} from ${runningDigest ?? 'no digest'} (${now.family}:${now.revision}) ` +
            `to ${target.digest} (${target.arn}, deployed ${target.steadyAt})\n`,
        );
        // The revision that ran that digest, with the settings it ran with; a registered revision
        // keeps its image pinned by digest, so Terraform's `:initial` revision is never chosen.
        await updateService(clients, service, target.arn);
        const markLeft = async () => {
          if (history.some((r) => r.arn === runningArn)) {
            await tagRevision(clients, runningArn, [{ key: DEPLOY_TAGS.rolledBackAt, value: new Date().toISOString() }]);
          }
        };
        if (wait.skip) return markLeft();
        await waitForSteadyState(clients, service, target.arn, { ...wait, output: io.stdout });
        await markLeft();
        io.stdout.write(`steady: ${target.arn} runs ${target.digest}\n`);
      };
    }
    case 'history': {
      const service = ref();
      return async (clients, io) => {
        const current = await describeService(clients, service);
        const { family } = parseTaskDefinitionArn(current.taskDefinition ?? '');
        const history = await deployHistory(clients, family);
        if (history.length === 0) io.stdout.write(`no deploy history for ${family} (rollouts record one once steady)\n`);
        for (const r of history) {
          const running = r.arn === current.taskDefinition ? ' (running)' : '';
          io.stdout.write(`${r.steadyAt}  ${family}:${r.revision}  ${r.digest}${r.rolledBackAt ? `  rolled back ${r.rolledBackAt}` : ''}${running}\n`);
        }
      };
    }
    default: {
      const service = ref();
      return async (clients, io) => {
        const current = await describeService(clients, service);
        const { taskDefinition: td } = await describeTaskDefinition(clients, current.taskDefinition ?? '');
        const image = td.containerDefinitions?.find((c) => c.name === container)?.image ?? '(no such container)';
        const out = io.stdout;
        out.write(`service          ${service.cluster}/${service.service} (${current.status ?? '?'})\n`);
        out.write(`task definition  ${current.taskDefinition ?? '?'}\n`);
        out.write(`image            ${image}\n`);
        out.write(`tasks            running ${current.runningCount ?? 0}, pending ${current.pendingCount ?? 0}, desired ${current.desiredCount ?? 0}\n`);
        for (const d of current.deployments ?? []) {
          out.write(
            `deployment       ${d.status ?? '?'} ${d.rolloutState ?? '?'} ${d.taskDefinition ?? '?'} running ${d.runningCount ?? 0}/${d.desiredCount ?? 0}` +
              `${d.rolloutStateReason ? ` (${d.rolloutStateReason})` : ''}\n`,
          );
        }
      };
    }
  }
}
