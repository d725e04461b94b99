import net from 'node:net';

/**
 * A TCP proxy in front of a real server, for outages injected at the network boundary. `cut()`
 * drops every connection and, until `restore()`, either resets new ones (`reset`: the host answers
 * but the service is gone) or refuses them with the listener closed (`refuse`: nothing listens).
 * The port stays the same across a cut, so clients reconnect to the same address.
 */
export class TcpProxy {
  private server?: net.Server;
  private readonly open = new Set<net.Socket>();
  private down = false;
  port = 0;

  constructor(
    private targetHost: string,
    private targetPort: number,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = net.createServer((client) => {
      if (this.down) return client.destroy();
      const upstream = net.connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.open.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          this.open.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    this.server.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  async cut(mode: 'reset' | 'refuse' = 'reset'): Promise<void> {
    this.down = true;
    for (const s of this.open) s.destroy();
    if (mode === 'refuse') await this.closeListener();
  }

  async restore(): Promise<void> {
    this.down = false;
    if (!this.server) await this.start();
  }

  /** New connections go to another server from now on (a load balancer after a task is lost). */
  retarget(host: string, port: number): void {
    this.targetHost = host;
    this.targetPort = port;
  }

  async close(): Promise<void> {
    await this.cut('refuse');
  }

  private async closeListener(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
