/**
 * A TCP proxy on 127.0.0.1 the tests control: it forwards to a target and can cut every
 * connection (now, or after a number of bytes, i.e. in the middle of a batch) and refuse new
 * ones until restored, like a site router losing its uplink.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";

export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private down = false;
  /** Bytes still to forward edge→target before everything is cut; null when not armed. */
  private budget: number | null = null;
  /** Connections accepted so far. */
  connections = 0;
  /** Bytes forwarded from clients to the target so far. */
  bytesUp = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Starts a proxy on a free port of 127.0.0.1 forwarding to `target`. */
  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => proxy?.accept(client, target));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    proxy = new TcpProxy(server, typeof address === "object" && address ? address.port : 0);
    return proxy;
  }

  /** Cuts every open connection and refuses new ones until `restore()`. */
  cut(): void {
    this.down = true;
    this.budget = null;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Cuts everything once `bytes` more bytes went from the client to the target. */
  cutAfter(bytes: number): void {
    this.budget = bytes;
  }

  restore(): void {
    this.down = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(client: Socket, target: { host: string; port: number }): void {
    if (this.down) {
      client.destroy();
      return;
    }
    this.connections++;
    const upstream = createConnection(target);
    this.sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on("data", (chunk: Buffer) => {
      if (this.budget !== null) {
        if (chunk.length >= this.budget) {
          // Half a frame reaches the target, then the connection ends: a cut mid-batch.
          this.sockets.delete(upstream);
          upstream.end(chunk.subarray(0, this.budget));
          this.cut();
          return;
        }
        this.budget -= chunk.length;
      }
      this.bytesUp += chunk.length;
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    client.on("close", drop).on("error", drop);
    upstream.on("close", drop).on("error", drop);
  }
}
