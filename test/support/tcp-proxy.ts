/**
 * A TCP proxy in front of a real server (PostgreSQL), so a test can cut the network the way an
 * outage or failover does — existing connections reset, new ones refused — without touching the
 * cluster that other tests share, and then bring it back on the same port.
 */
import net from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** Resets every open connection and refuses new ones (ECONNREFUSED) until `up()`. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function tcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    open.add(s);
    s.on("close", () => open.delete(s));
    s.on("error", () => undefined); // a reset peer is the point of this proxy
  };
  let server: net.Server | undefined;
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const s = net.createServer((client) => {
        const upstream = net.connect(target.port, target.host);
        track(client);
        track(upstream);
        client.pipe(upstream);
        upstream.pipe(client);
        client.on("close", () => upstream.destroy());
        upstream.on("close", () => client.destroy());
      });
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => {
        server = s;
        resolve((s.address() as net.AddressInfo).port);
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of open) s.resetAndDestroy();
      if (!server) {
        resolve();
        return;
      }
      server.close(() => {
        resolve();
      });
      server = undefined;
    });
  const port = await listen(0);
  return {
    port,
    down: stop,
    up: async () => {
      if (!server) await listen(port); // already up: nothing to do
    },
    close: stop,
  };
}
