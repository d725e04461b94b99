import type { Deployment, Service, Tag, TaskDefinition } from '@aws-sdk/client-ecs';
import type { DeployClients } from './aws-clients.js';
import { DeployError } from './errors.js';

export interface ServiceRef {
  cluster: string;
  service: string;
}

/** `arn:...:task-definition/family:12` → { family, revision }. */
export function parseTaskDefinitionArn(arn: string): { family: string; revision: number } {
  const m = /task-definition\/([^:/]+):(\d+)$/.exec(arn) ?? /^([^:/]+):(\d+)$/.exec(arn);
  if (!m) throw new DeployError(`not a task-definition revision: ${arn}`);
  return { family: m[1]!, revision: Number(m[2]) };
}

/**
 * The service as ECS describes it.
 * @throws DeployError when the cluster or the service does not exist.
 */
export async function describeService({ ecs, ecsSdk }: DeployClients, ref: ServiceRef): Promise<Service> {
  const out = await ecs.send(new ecsSdk.DescribeServicesCommand({ cluster: ref.cluster, services: [ref.service] }));
  const service = out.services?.[0];
  if (!service || service.status === 'INACTIVE') {
    const reason = out.failures?.[0]?.reason ?? 'INACTIVE';
    throw new DeployError(`service ${ref.service} in cluster ${ref.cluster}: ${reason}`);
  }
  return service;
}

/**
 * A revision (`family:n` or ARN) or a family's latest ACTIVE revision (`family`), with its tags.
 * @throws DeployError when ECS returns none.
 */
export async function describeTaskDefinition(
  { ecs, ecsSdk }: DeployClients,
  taskDefinition: string,
): Promise<{ taskDefinition: TaskDefinition; tags: Tag[] }> {
  const out = await ecs.send(new ecsSdk.DescribeTaskDefinitionCommand({ taskDefinition, include: ['TAGS'] }));
  if (!out.taskDefinition) throw new DeployError(`task definition ${taskDefinition} not found`);
  return { taskDefinition: out.taskDefinition, tags: out.tags ?? [] };
}

/**
 * Registers a copy of `base` whose container `containerName` runs `image`; everything else (roles,
 * size, environment, secrets, logging, stopTimeout) is kept as Terraform last wrote it.
 * @returns the new revision's ARN.
 */
export async function registerWithImage(
  { ecs, ecsSdk }: DeployClients,
  base: TaskDefinition,
  containerName: string,
  image: string,
  tags: Tag[] = [],
): Promise<string> {
  const containers = base.containerDefinitions ?? [];
  if (!containers.some((c) => c.name === containerName)) {
    throw new DeployError(`task definition ${base.family} has no container named ${containerName}`);
  }
  const out = await ecs.send(
    new ecsSdk.RegisterTaskDefinitionCommand({
      family: base.family,
      taskRoleArn: base.taskRoleArn,
      executionRoleArn: base.executionRoleArn,
      networkMode: base.networkMode,
      containerDefinitions: containers.map((c) => (c.name === containerName ? { ...c, image } : c)),
      volumes: base.volumes,
      placementConstraints: base.placementConstraints,
      requiresCompatibilities: base.requiresCompatibilities,
      cpu: base.cpu,
      memory: base.memory,
      runtimePlatform: base.runtimePlatform,
      ephemeralStorage: base.ephemeralStorage,
      pidMode: base.pidMode,
      ipcMode: base.ipcMode,
      proxyConfiguration: base.proxyConfiguration,
      ...(tags.length > 0 ? { tags } : {}),
    }),
  );
  const arn = out.taskDefinition?.taskDefinitionArn;
  if (!arn) throw new DeployError('ECS registered no task definition');
  return arn;
}

/** Points the service at a revision and starts a new deployment. */
export async function updateService({ ecs, ecsSdk }: DeployClients, ref: ServiceRef, taskDefinition: string): Promise<void> {
  await ecs.send(
    new ecsSdk.UpdateServiceCommand({ cluster: ref.cluster, service: ref.service, taskDefinition, forceNewDeployment: true }),
  );
}

/** The ACTIVE revisions of a family, newest first. */
export async function activeRevisions({ ecs, ecsSdk }: DeployClients, family: string): Promise<string[]> {
  const arns: string[] = [];
  let nextToken: string | undefined;
  do {
    const out = await ecs.send(
      new ecsSdk.ListTaskDefinitionsCommand({ familyPrefix: family, status: 'ACTIVE', sort: 'DESC', nextToken }),
    );
    arns.push(...(out.taskDefinitionArns ?? []).filter((arn) => parseTaskDefinitionArn(arn).family === family));
    nextToken = out.nextToken;
  } while (nextToken);
  return arns.sort((a, b) => parseTaskDefinitionArn(b).revision - parseTaskDefinitionArn(a).revision);
}

export interface WaitOptions {
  pollMs: number;
  timeoutMs: number;
  output: NodeJS.WritableStream;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function describeDeployment(d: Deployment): string {
  return `${d.status ?? '?'} ${d.rolloutState ?? '?'} running ${d.runningCount ?? 0}/${d.desiredCount ?? 0} ${d.taskDefinition ?? ''}`;
}

/**
 * Polls the service until the deployment of `taskDefinition` is the primary one, its rollout is
 * COMPLETED and it runs the desired count (steady state).
 * @throws DeployError when the rollout FAILED, the circuit breaker rolled it back, or on timeout.
 */
export async function waitForSteadyState(clients: DeployClients, ref: ServiceRef, taskDefinition: string, opts: WaitOptions): Promise<void> {
  const sleep = opts.sleep ?? defaultSleep;
  const deadline = Date.now() + opts.timeoutMs;
  let last = '';
  for (;;) {
    const service = await describeService(clients, ref);
    const deployments = service.deployments ?? [];
    const ours = deployments.find((d) => d.taskDefinition === taskDefinition);
    const primary = deployments.find((d) => d.status === 'PRIMARY');
    if (ours?.rolloutState === 'FAILED') {
      throw new DeployError(`rollout FAILED: ${ours.rolloutStateReason ?? 'no reason given'}`);
    }
    if (!ours || (primary && primary !== ours)) {
      // The circuit breaker (or someone else) has replaced our deployment.
      throw new DeployError(`rollout replaced: the service now deploys ${primary?.taskDefinition ?? 'nothing'}`);
    }
    const line = describeDeployment(ours);
    if (line !== last) opts.output.write(`  ${line}\n`);
    last = line;
    if (ours.rolloutState === 'COMPLETED' && ours.runningCount === ours.desiredCount && deployments.length === 1) return;
    if (Date.now() >= deadline) throw new DeployError(`timed out after ${Math.round(opts.timeoutMs / 1000)} s waiting for steady state`);
    await sleep(opts.pollMs);
  }
}

/**
 * Tags `deploy rollout` puts on the revisions it registers: the deploy history lives on the
 * task-definition revisions themselves (no other store, nothing more to grant than
 * `ecs:TagResource`). `rollback` reads them back.
 */
export const DEPLOY_TAGS = {
  /** The image digest the revision runs (`sha256:...`), set when it is registered. */
  digest: 'arogya:image-digest',
  /** When the rollout reached steady state (ISO time): only such revisions are rollback targets. */
  steadyAt: 'arogya:steady-at',
  /** When `rollback` left it: later rollbacks go further back instead of returning to it. */
  rolledBackAt: 'arogya:rolled-back-at',
} as const;

/** How many of the newest ACTIVE revisions the history reads (one DescribeTaskDefinition each). */
export const HISTORY_DEPTH = 50;

export interface DeployRecord {
  arn: string;
  revision: number;
  digest: string;
  steadyAt: string;
  rolledBackAt?: string;
}

/** Tags without the deploy history's own (a copied revision must not inherit its base's record). */
export function withoutDeployTags(tags: Tag[]): Tag[] {
  return tags.filter((t) => !t.key?.startsWith('arogya:'));
}

/** `<repository>@sha256:...` → `sha256:...`; undefined for a tag reference such as `:initial`. */
export function imageDigest(image: string | undefined): string | undefined {
  return /@(sha256:[0-9a-f]{64})$/.exec(image ?? '')?.[1];
}

/** Adds tags to a revision. */
export async function tagRevision({ ecs, ecsSdk }: DeployClients, arn: string, tags: Tag[]): Promise<void> {
  await ecs.send(new ecsSdk.TagResourceCommand({ resourceArn: arn, tags }));
}

/**
 * The deploy history of a family: its ACTIVE revisions that a rollout brought to steady state,
 * newest steady state first (read from the newest HISTORY_DEPTH revisions' tags).
 */
export async function deployHistory(clients: DeployClients, family: string): Promise<DeployRecord[]> {
  const records: DeployRecord[] = [];
  for (const arn of (await activeRevisions(clients, family)).slice(0, HISTORY_DEPTH)) {
    const { tags } = await describeTaskDefinition(clients, arn);
    const tag = (key: string) => tags.find((t) => t.key === key)?.value;
    const digest = tag(DEPLOY_TAGS.digest);
    const steadyAt = tag(DEPLOY_TAGS.steadyAt);
    if (!digest || !steadyAt) continue;
    const rolledBackAt = tag(DEPLOY_TAGS.rolledBackAt);
    records.push({ arn, revision: parseTaskDefinitionArn(arn).revision, digest, steadyAt, ...(rolledBackAt ? { rolledBackAt } : {}) });
  }
  return records.sort((a, b) => b.steadyAt.localeCompare(a.steadyAt) || b.revision - a.revision);
}

/**
 * Where `rollback` goes from the revision the service runs: the newest record before the current
 * one (by steady time) whose digest differs and that no rollback has left; with `digest`, the newest
 * record of that digest. The current record is the one whose revision runs; a revision outside the
 * history (Terraform's `:initial`, say) has none, and then every record counts.
 */
export function rollbackTarget(history: DeployRecord[], runningArn: string, runningDigest: string | undefined, digest?: string): DeployRecord | undefined {
  const current = history.find((r) => r.arn === runningArn);
  const earlier = current ? history.filter((r) => r.steadyAt < current.steadyAt || (r.steadyAt === current.steadyAt && r.revision < current.revision)) : history;
  if (digest !== undefined) return history.find((r) => r.digest === digest && r.arn !== runningArn);
  return earlier.find((r) => !r.rolledBackAt && r.digest !== (current?.digest ?? runningDigest));
}
