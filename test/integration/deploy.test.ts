import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployCommand } from '../../src/deploy/cli.js';
import { deployCalls } from '../../src/deploy/deploy-calls.js';

/**
 * `arogya-live deploy` against a local stand-in for ECS and ECR that speaks the AWS JSON 1.1
 * protocol (POST /, X-Amz-Target, SigV4-signed), reached through AWS_ENDPOINT_URL_ECS/_ECR by the
 * real SDK clients, and a stand-in `docker` executable that records what it was asked to do.
 */

const REPO = 'arogya-live-staging';
const REPO_URI = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${REPO}`;
const FAMILY = 'arogya-staging';
const CLUSTER = 'arogya-staging';
const SERVICE = 'arogya-live';
const PUSHED_DIGEST = `sha256:${'a'.repeat(64)}`;
const OLD_DIGEST = `sha256:${'b'.repeat(64)}`;
const MID_DIGEST = `sha256:${'d'.repeat(64)}`;
const NEW_DIGEST = `sha256:${'e'.repeat(64)}`;
type Tag = { key: string; value: string };
const APP_TAG: Tag = { key: 'application', value: 'arogya-live' };
/** What `deploy rollout` leaves on a revision it brought to steady state. */
const deployed = (digest: string, steadyAt: string): Tag[] => [APP_TAG, { key: 'arogya:image-digest', value: digest }, { key: 'arogya:steady-at', value: steadyAt }];
const tdArn = (revision: number) => `arn:aws:ecs:eu-west-1:123456789012:task-definition/${FAMILY}:${revision}`;

type Rollout = 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
interface Recorded {
  target: string;
  body: Record<string, any>;
  authorization: string;
}

/** The AWS side: one repository, one task-definition family, one service. */
class AwsStandIn {
  requests: Recorded[] = [];
  revisions = new Map<number, { def: Record<string, any>; status: 'ACTIVE' | 'INACTIVE'; tags: Tag[] }>();
  serviceTd = tdArn(3);
  deployments: Record<string, any>[] = [];
  /** What each DescribeServices after an UpdateService reports for the new deployment. */
  script: Rollout[] = [];
  pushedMarker = '';
  images = new Map<string, string>([[OLD_DIGEST, 'old'], [MID_DIGEST, 'mid'], [NEW_DIGEST, 'new']]);

  constructor() {
    const container = (image: string, extraEnv: { name: string; value: string }[] = []) => ({
      name: 'app',
      image,
      essential: true,
      stopTimeout: 30,
      user: '10001:10001',
      environment: [{ name: 'NODE_ENV', value: 'production' }, ...extraEnv],
      secrets: [{ name: 'SESSION_SECRET', valueFrom: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:arogya/staging/session-secret' }],
      portMappings: [{ containerPort: 3000, protocol: 'tcp' }],
    });
    const def = (revision: number, image: string, extraEnv?: { name: string; value: string }[]) => ({
      taskDefinitionArn: tdArn(revision),
      family: FAMILY,
      revision,
      taskRoleArn: 'arn:aws:iam::123456789012:role/arogya-staging-task',
      executionRoleArn: 'arn:aws:iam::123456789012:role/arogya-staging-execution',
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '1024',
      memory: '2048',
      containerDefinitions: [container(image, extraEnv)],
      status: 'ACTIVE',
    });
    this.revisions.set(1, { def: def(1, `${REPO_URI}:initial`), status: 'INACTIVE', tags: [APP_TAG] });
    // Two rollouts, each recorded once steady: OLD, then MID (which runs).
    this.revisions.set(2, { def: def(2, `${REPO_URI}@${OLD_DIGEST}`), status: 'ACTIVE', tags: deployed(OLD_DIGEST, '2026-11-01T10:00:00.000Z') });
    this.revisions.set(3, { def: def(3, `${REPO_URI}@${MID_DIGEST}`), status: 'ACTIVE', tags: deployed(MID_DIGEST, '2026-11-20T10:00:00.000Z') });
    // Terraform applied a settings change after the last rollout: revision 4 is newer than what runs,
    // with Terraform's image reference (`:initial`) and no deploy record.
    this.revisions.set(4, { def: def(4, `${REPO_URI}:initial`, [{ name: 'LOG_LEVEL', value: 'debug' }]), status: 'ACTIVE', tags: [APP_TAG] });
    this.deployments = [this.deployment(this.serviceTd, 'PRIMARY', 'COMPLETED', 2)];
  }

  deployment(td: string, status: string, rolloutState: Rollout, running: number, reason?: string) {
    return { id: `ecs-svc/${td.split(':').pop()}`, status, taskDefinition: td, desiredCount: 2, runningCount: running, rolloutState, rolloutStateReason: reason };
  }

  calls(target: string): Recorded[] {
    return this.requests.filter((r) => r.target.endsWith(`.${target}`));
  }

  handle(target: string, body: Record<string, any>): [number, unknown] {
    const [service, op] = target.split('.');
    const error = (type: string, message: string): [number, unknown] => [400, { __type: type, message }];
    if (service === 'AmazonEC2ContainerRegistry_V20150921') {
      switch (op) {
        case 'DescribeRepositories':
          return body.repositoryNames?.[0] === REPO
            ? [200, { repositories: [{ repositoryName: REPO, repositoryUri: REPO_URI }] }]
            : error('RepositoryNotFoundException', 'no such repository');
        case 'GetAuthorizationToken':
          return [200, { authorizationData: [{ authorizationToken: Buffer.from('AWS:ecr-password-123').toString('base64'), proxyEndpoint: 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com' }] }];
        case 'DescribeImages': {
          const id = body.imageIds?.[0] ?? {};
          if (id.imageTag !== undefined) {
            // The tag exists only once the (stand-in) docker push has happened.
            if (id.imageTag === 'v42' && fs.existsSync(this.pushedMarker)) return [200, { imageDetails: [{ imageDigest: PUSHED_DIGEST, imageTags: ['v42'] }] }];
            return error('ImageNotFoundException', 'no such tag');
          }
          if (id.imageDigest === PUSHED_DIGEST || this.images.has(id.imageDigest)) return [200, { imageDetails: [{ imageDigest: id.imageDigest }] }];
          return error('ImageNotFoundException', 'no such digest');
        }
      }
    }
    if (service === 'AmazonEC2ContainerServiceV20141113') {
      switch (op) {
        case 'DescribeServices': {
          if (body.cluster !== CLUSTER || body.services?.[0] !== SERVICE) return [200, { services: [], failures: [{ reason: 'MISSING' }] }];
          const primary = this.deployments[0]!;
          const step = primary.rolloutState === 'IN_PROGRESS' ? this.script.shift() : undefined;
          if (step === 'COMPLETED') this.deployments = [this.deployment(primary.taskDefinition, 'PRIMARY', 'COMPLETED', 2)];
          if (step === 'FAILED') this.deployments = [this.deployment(primary.taskDefinition, 'PRIMARY', 'FAILED', 0, 'ECS deployment circuit breaker: tasks failed to start.'), ...this.deployments.slice(1)];
          return [200, { services: [{ serviceName: SERVICE, status: 'ACTIVE', taskDefinition: this.serviceTd, desiredCount: 2, runningCount: 2, pendingCount: 0, deployments: this.deployments }] }];
        }
        case 'DescribeTaskDefinition': {
          const ref = String(body.taskDefinition);
          const revision = /:(\d+)$/.test(ref)
            ? Number(/:(\d+)$/.exec(ref)![1])
            : Math.max(...[...this.revisions].filter(([, r]) => r.status === 'ACTIVE').map(([n]) => n));
          const found = this.revisions.get(revision);
          if (!found) return error('ClientException', 'Unable to describe task definition.');
          return [200, { taskDefinition: found.def, tags: body.include?.includes('TAGS') ? found.tags : undefined }];
        }
        case 'RegisterTaskDefinition': {
          const revision = Math.max(...this.revisions.keys()) + 1;
          const { tags, ...rest } = body;
          const def = { ...rest, taskDefinitionArn: tdArn(revision), revision, status: 'ACTIVE' };
          this.revisions.set(revision, { def, status: 'ACTIVE', tags: tags ?? [] });
          return [200, { taskDefinition: def }];
        }
        case 'TagResource': {
          const found = [...this.revisions.values()].find((r) => r.def.taskDefinitionArn === body.resourceArn);
          if (!found) return error('InvalidParameterException', 'no such resource');
          for (const tag of body.tags as Tag[]) found.tags = [...found.tags.filter((t) => t.key !== tag.key), tag];
          return [200, {}];
        }
        case 'ListTaskDefinitions': {
          const arns = [...this.revisions].filter(([, r]) => r.status === 'ACTIVE').map(([n]) => tdArn(n)).reverse();
          return [200, { taskDefinitionArns: arns }];
        }
        case 'UpdateService': {
          const old = this.deployments.find((d) => d.status === 'PRIMARY')!;
          this.serviceTd = body.taskDefinition;
          this.deployments = [this.deployment(body.taskDefinition, 'PRIMARY', 'IN_PROGRESS', 0), { ...old, status: 'ACTIVE' }];
          return [200, { service: { serviceName: SERVICE, taskDefinition: body.taskDefinition } }];
        }
      }
    }
    return error('UnknownOperationException', `stand-in does not implement ${target}`);
  }
}

let aws: AwsStandIn;
/** Every operation any test here sent, checked against the deploy identity's list at the end. */
const sentOperations = new Set<string>();
let server: http.Server;
let endpoint: string;
let tmp: string;
let dockerLog: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const body = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, any>) : {};
      aws.requests.push({ target, body, authorization: String(req.headers['authorization'] ?? '') });
      sentOperations.add(target.split('.')[1]!);
      const [status, payload] = aws.handle(target, body);
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'test' });
      res.end(JSON.stringify(payload));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'arogya-deploy-'));
  dockerLog = path.join(tmp, 'docker.log');
  // The docker stand-in: records argv and stdin; `push` leaves a marker the ECR stand-in looks for.
  const docker = path.join(tmp, 'docker');
  fs.writeFileSync(
    docker,
    `#!/bin/sh\nstdin=$(cat)\necho "argv: $*" >> "${dockerLog}"\n[ -n "$stdin" ] && echo "stdin: $stdin" >> "${dockerLog}"\n[ "$1" = push ] && touch "${tmp}/pushed"\nexit 0\n`,
    { mode: 0o755 },
  );
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  aws = new AwsStandIn();
  aws.pushedMarker = path.join(tmp, 'pushed');
  fs.rmSync(aws.pushedMarker, { force: true });
  fs.rmSync(dockerLog, { force: true });
});

async function run(args: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const env = {
    PATH: process.env['PATH'],
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_ECS: endpoint,
    AWS_ENDPOINT_URL_ECR: endpoint,
    DEPLOY_CLUSTER: CLUSTER,
    DEPLOY_SERVICE: SERVICE,
    DEPLOY_REPOSITORY: REPO,
    DOCKER: path.join(tmp, 'docker'),
  };
  const code = await deployCommand(args, { stdout, stderr, env });
  return { code, out, err };
}

describe('deploy push', () => {
  it('logs docker in with the ECR token on stdin, pushes the tag and prints the digest ECR reports', async () => {
    const { code, out, err } = await run(['push', '--image', 'arogya-live:local', '--tag', 'v42']);
    expect(err).not.toContain('ecr-password-123');
    expect(code).toBe(0);
    expect(out).toBe(`${PUSHED_DIGEST}\n`);
    const log = fs.readFileSync(dockerLog, 'utf8').split('\n');
    expect(log).toEqual([
      'argv: login --username AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com',
      'stdin: ecr-password-123',
      `argv: tag arogya-live:local ${REPO_URI}:v42`,
      `argv: push ${REPO_URI}:v42`,
      '',
    ]);
    expect(aws.calls('DescribeImages').at(-1)!.body).toEqual({ repositoryName: REPO, imageIds: [{ imageTag: 'v42' }] });
    for (const r of aws.requests) expect(r.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=test\//);
  });

  it('fails with exit 1 when the repository does not exist, before running docker', async () => {
    const { code, err } = await run(['push', '--image', 'x', '--tag', 'v42', '--repository', 'nope']);
    expect(code).toBe(1);
    expect(err).toContain('RepositoryNotFoundException');
    expect(fs.existsSync(dockerLog)).toBe(false);
  });
});

describe('deploy rollout', () => {
  it('registers the family\'s latest revision with the image pinned by digest, forces a deployment and waits IN_PROGRESS → COMPLETED', async () => {
    aws.script = ['IN_PROGRESS', 'IN_PROGRESS', 'COMPLETED'];
    const { code, out, err } = await run(['rollout', '--digest', PUSHED_DIGEST, '--poll', '0.01']);
    expect(err).toBe('');
    expect(code).toBe(0);

    const registered = aws.calls('RegisterTaskDefinition');
    expect(registered).toHaveLength(1);
    const def = registered[0]!.body;
    expect(def.family).toBe(FAMILY);
    expect(def.containerDefinitions[0].image).toBe(`${REPO_URI}@${PUSHED_DIGEST}`);
    // Everything but the image comes from revision 4, the newest settings Terraform wrote.
    expect(def.containerDefinitions[0].environment).toContainEqual({ name: 'LOG_LEVEL', value: 'debug' });
    expect(def.containerDefinitions[0]).toMatchObject({ stopTimeout: 30, user: '10001:10001', secrets: [expect.objectContaining({ name: 'SESSION_SECRET' })] });
    expect(def).toMatchObject({ taskRoleArn: expect.stringContaining('task'), executionRoleArn: expect.stringContaining('execution'), cpu: '1024', memory: '2048' });
    // The deploy record: the digest at registration, the steady time once steady.
    expect(def.tags).toEqual([APP_TAG, { key: 'arogya:image-digest', value: PUSHED_DIGEST }]);
    expect(aws.calls('TagResource').map((r) => r.body)).toEqual([{ resourceArn: tdArn(5), tags: [{ key: 'arogya:steady-at', value: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }] }]);

    expect(aws.calls('UpdateService').map((r) => r.body)).toEqual([{ cluster: CLUSTER, service: SERVICE, taskDefinition: tdArn(5), forceNewDeployment: true }]);
    expect(aws.calls('DescribeServices').length).toBeGreaterThanOrEqual(4);
    expect(out).toContain(`registered ${tdArn(5)}`);
    expect(out).toContain('PRIMARY IN_PROGRESS running 0/2');
    expect(out).toContain(`steady: ${tdArn(5)} runs ${REPO_URI}@${PUSHED_DIGEST} (recorded in the deploy history)`);
  });

  it('does not copy the base revision\'s deploy record into the new revision', async () => {
    aws.revisions.get(4)!.status = 'INACTIVE'; // the latest ACTIVE revision is then 3, a recorded rollout
    aws.script = ['COMPLETED'];
    expect((await run(['rollout', '--digest', PUSHED_DIGEST, '--poll', '0.01'])).code).toBe(0);
    expect(aws.calls('RegisterTaskDefinition')[0]!.body.tags).toEqual([APP_TAG, { key: 'arogya:image-digest', value: PUSHED_DIGEST }]);
  });

  it('exits 1 with the reason when the rollout FAILED (circuit breaker)', async () => {
    aws.script = ['IN_PROGRESS', 'FAILED'];
    const { code, err } = await run(['rollout', '--digest', PUSHED_DIGEST, '--poll', '0.01']);
    expect(code).toBe(1);
    expect(err).toContain('rollout FAILED: ECS deployment circuit breaker: tasks failed to start.');
    // Never recorded as deployed, so never a rollback target.
    expect(aws.calls('TagResource')).toHaveLength(0);
  });

  it('exits 1 when steady state does not come within the timeout', async () => {
    const { code, err } = await run(['rollout', '--digest', PUSHED_DIGEST, '--poll', '0.01', '--timeout', '0.05']);
    expect(code).toBe(1);
    expect(err).toMatch(/timed out after \d+ s waiting for steady state/);
  });

  it('refuses a digest the repository does not have, changing nothing', async () => {
    const { code, err } = await run(['rollout', '--digest', `sha256:${'c'.repeat(64)}`]);
    expect(code).toBe(1);
    expect(err).toContain('ImageNotFoundException');
    expect(aws.calls('RegisterTaskDefinition')).toHaveLength(0);
    expect(aws.calls('UpdateService')).toHaveLength(0);
  });
});

describe('deploy rollback (by image digest, from the deploy history)', () => {
  it('after a Terraform change and a rollout, returns to the digest deployed before (MID), not to Terraform\'s :initial revision', async () => {
    aws.script = ['COMPLETED'];
    expect((await run(['rollout', '--digest', PUSHED_DIGEST, '--poll', '0.01'])).code).toBe(0); // revision 5, copied from 4
    aws.script = ['IN_PROGRESS', 'COMPLETED'];
    const { code, out, err } = await run(['rollback', '--poll', '0.01']);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(aws.calls('UpdateService').map((r) => r.body.taskDefinition)).toEqual([tdArn(5), tdArn(3)]);
    expect(aws.revisions.get(3)!.def.containerDefinitions[0].image).toBe(`${REPO_URI}@${MID_DIGEST}`);
    expect(out).toContain(`from ${PUSHED_DIGEST} (${FAMILY}:5) to ${MID_DIGEST} (${tdArn(3)}, deployed 2026-11-20T10:00:00.000Z)`);
    expect(out).toContain(`steady: ${tdArn(3)} runs ${MID_DIGEST}`);
    // The revision it left is marked, so the next rollback goes further back instead of returning.
    expect(aws.revisions.get(5)!.tags).toContainEqual({ key: 'arogya:rolled-back-at', value: expect.stringMatching(/^\d{4}-/) });

    // The next release is bad too: its rollback skips the release rolled back before (PUSHED) and returns to MID.
    aws.script = ['COMPLETED'];
    expect((await run(['rollout', '--digest', NEW_DIGEST, '--poll', '0.01'])).code).toBe(0); // revision 6
    aws.script = ['COMPLETED'];
    expect((await run(['rollback', '--poll', '0.01'])).code).toBe(0);
    expect(aws.calls('UpdateService').map((r) => r.body.taskDefinition)).toEqual([tdArn(5), tdArn(3), tdArn(6), tdArn(3)]);
  });

  it('goes further back when repeated (MID → OLD), then refuses: nothing deployed before', async () => {
    aws.script = ['COMPLETED'];
    expect((await run(['rollback', '--poll', '0.01'])).code).toBe(0);
    expect(aws.calls('UpdateService').map((r) => r.body.taskDefinition)).toEqual([tdArn(2)]);

    const refused = await run(['rollback', '--poll', '0.01']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`no digest in the deploy history of ${FAMILY} before ${OLD_DIGEST}`);
    expect(aws.calls('UpdateService')).toHaveLength(1);
  });

  it('skips a rollout the circuit breaker failed: it was never recorded', async () => {
    aws.script = ['FAILED'];
    expect((await run(['rollout', '--digest', PUSHED_DIGEST, '--poll', '0.01'])).code).toBe(1);
    aws.serviceTd = tdArn(3); // the circuit breaker put the service back on MID
    aws.deployments = [aws.deployment(tdArn(3), 'PRIMARY', 'COMPLETED', 2)];
    aws.script = ['COMPLETED'];
    expect((await run(['rollback', '--poll', '0.01'])).code).toBe(0);
    expect(aws.calls('UpdateService').map((r) => r.body.taskDefinition)).toEqual([tdArn(5), tdArn(2)]);
  });

  it('goes to the digest asked for, and refuses one that was never deployed', async () => {
    aws.script = ['COMPLETED'];
    expect((await run(['rollback', '--digest', OLD_DIGEST, '--poll', '0.01'])).code).toBe(0);
    expect(aws.calls('UpdateService').map((r) => r.body.taskDefinition)).toEqual([tdArn(2)]);

    const refused = await run(['rollback', '--digest', PUSHED_DIGEST]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`${PUSHED_DIGEST} is not in the deploy history of ${FAMILY}`);
    expect(aws.calls('UpdateService')).toHaveLength(1);
  });

  it('deploy history lists the recorded rollouts, newest first, with the running one marked', async () => {
    const { code, out } = await run(['history']);
    expect(code).toBe(0);
    expect(out).toBe(
      `2026-11-20T10:00:00.000Z  ${FAMILY}:3  ${MID_DIGEST} (running)\n` +
      `2026-11-01T10:00:00.000Z  ${FAMILY}:2  ${OLD_DIGEST}\n`,
    );
  });
});

describe('deploy status', () => {
  it('prints the running revision, its image digest, counts and deployments', async () => {
    const { code, out } = await run(['status']);
    expect(code).toBe(0);
    expect(out).toContain(`task definition  ${tdArn(3)}`);
    expect(out).toContain(`image            ${REPO_URI}@${MID_DIGEST}`);
    expect(out).toContain('tasks            running 2, pending 0, desired 2');
    expect(out).toContain(`deployment       PRIMARY COMPLETED ${tdArn(3)} running 2/2`);
  });

  it('exits 1 when the service does not exist', async () => {
    const { code, err } = await run(['status', '--service', 'missing']);
    expect(code).toBe(1);
    expect(err).toContain('service missing in cluster arogya-staging: MISSING');
  });
});

describe('deploy usage', () => {
  it.each([[[]], [['launch']], [['rollout']], [['rollout', '--digest', 'latest']], [['status', '--bogus']], [['rollback', '--revision', '2']], [['rollback', '--digest', 'latest']]])(
    'prints help and exits 2 for %j without calling AWS',
    async (args) => {
      const { code, err } = await run(args);
      expect(code).toBe(2);
      expect(err).toContain('Usage: arogya-live deploy <command>');
      expect(aws.requests).toHaveLength(0);
    },
  );

  it('prints help on --help with exit 0', async () => {
    const { code, out } = await run(['--help']);
    expect(code).toBe(0);
    expect(out).toContain('rollback  [--digest <sha256:...>]');
  });
});

describe('the deploy identity\'s list (src/deploy/deploy-calls.ts, simulated in infra/test/deploy-policy.test.ts)', () => {
  it('holds every operation the tests above sent to ECS and ECR', () => {
    const listed = new Set(deployCalls({ region: 'eu-west-1', accountId: '123456789012', cluster: CLUSTER, service: SERVICE, repository: REPO, family: FAMILY, taskRoleArn: 'r', executionRoleArn: 'e' }).map((c) => c.operation));
    expect(sentOperations.size).toBeGreaterThanOrEqual(8);
    expect([...sentOperations].filter((op) => !listed.has(op))).toEqual([]);
  });
});
