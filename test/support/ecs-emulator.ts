import http from 'node:http';
import net from 'node:net';

/**
 * What ECS and an ALB do to a task they stop, emulated in front of real service processes:
 * a stand-in of the task metadata endpoint v4 and a TCP load balancer with registration and
 * deregistration delay (test/e2e/ecs-stop-order.test.ts).
 */

/** `GET /task` of the task metadata endpoint v4: `DesiredStatus` RUNNING until `stop()`. */
export class MetadataStandIn {
  private server?: http.Server;
  private desired = 'RUNNING';
  polls = 0;
  url = '';

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      if (!req.url?.endsWith('/task')) return void res.writeHead(404).end();
      this.polls += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ Cluster: 'test', TaskARN: 'arn:aws:ecs:eu-west-1:123456789012:task/test/abc', DesiredStatus: this.desired, KnownStatus: 'RUNNING' }));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}/v4/abc`;
    return this;
  }

  stop(): void {
    this.desired = 'STOPPED';
  }

  close(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/**
 * An ALB as a TCP proxy: new connections go to a registered target (the first one); `deregister`
 * routes new connections elsewhere at once, keeps the open ones for `delayMs` and then closes them,
 * as the ALB does at the end of the deregistration delay.
 */
export class LoadBalancerStandIn {
  private server?: net.Server;
  private readonly registered: string[] = [];
  private readonly targets = new Map<string, number>();
  private readonly open = new Map<string, Set<net.Socket>>();
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  register(name: string, port: number): void {
    this.targets.set(name, port);
    if (!this.registered.includes(name)) this.registered.push(name);
  }

  /** Resolves when the target's connections are closed, `delayMs` after it stopped getting new ones. */
  async deregister(name: string, delayMs: number): Promise<void> {
    this.registered.splice(this.registered.indexOf(name), 1);
    await new Promise((r) => setTimeout(r, delayMs));
    for (const s of this.open.get(name) ?? []) s.destroy();
  }

  connections(name: string): number {
    return this.open.get(name)?.size ?? 0;
  }

  async start(): Promise<this> {
    this.server = net.createServer((client) => {
      const name = this.registered[0];
      if (!name) return client.destroy();
      const upstream = net.connect(this.targets.get(name)!, '127.0.0.1');
      const set = this.open.get(name) ?? new Set();
      this.open.set(name, set);
      set.add(client);
      for (const s of [client, upstream]) {
        s.on('error', () => {});
        s.on('close', () => {
          set.delete(client);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const set of this.open.values()) for (const s of set) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
