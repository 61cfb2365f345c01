/**
 * A TCP proxy of the test's own between the hubs and a real server (Postgres), to cut the
 * network without touching the server: `cut()` destroys every connection through it, and
 * while cut, new connections are either held (accepted, never answered: a network partition,
 * the default) or refused; `restore()` forwards again, held connections included (as a
 * retransmitted SYN would get through once the network heals) unless their client gave up.
 */
import net from "node:net";

export type CutMode = "hold" | "refuse";

export interface TcpProxy {
  port: number;
  /** Connections forwarded right now. */
  readonly open: number;
  /** Connections accepted while cut and not answered. */
  readonly held: number;
  readonly isCut: boolean;
  cut(mode?: CutMode): void;
  restore(): void;
  close(): Promise<void>;
}

export async function tcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const held = new Set<net.Socket>();
  let mode: CutMode | undefined;

  const forward = (client: net.Socket) => {
    if (client.destroyed) return;
    const upstream = net.connect(target.port, target.host);
    const pair = { client, upstream };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  };

  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    if (mode === "refuse") return void client.destroy();
    if (mode === "hold") {
      held.add(client);
      client.on("error", () => {}).on("close", () => held.delete(client));
      return;
    }
    forward(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;

  return {
    port,
    get open() {
      return pairs.size;
    },
    get held() {
      return held.size;
    },
    get isCut() {
      return mode !== undefined;
    },
    cut(how: CutMode = "hold") {
      mode = how;
      for (const { client, upstream } of [...pairs]) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    restore() {
      mode = undefined;
      const waiting = [...held];
      held.clear();
      for (const client of waiting) forward(client);
    },
    async close() {
      mode = "refuse";
      for (const client of held) client.destroy();
      held.clear();
      for (const { client, upstream } of [...pairs]) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
