/**
 * Connections against slow and greedy clients: timeouts for headers, whole requests, idle sockets
 * and keep-alive; a cap on simultaneous connections per client address; and a shutdown that cuts
 * off what is still open after a deadline instead of waiting for it forever.
 */
import net from "node:net";
import type { FastifyInstance } from "fastify";
import type { ResolvedHttp } from "../access/http-config.js";

/** Options for Node's HTTP(S) server and Fastify's timeouts, from `access.http.timeouts`. */
export function serverTimeouts(http: ResolvedHttp) {
  const t = http.timeouts;
  const node = {
    headersTimeout: Math.min(t.headersMs, t.requestMs),
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.keepAliveMs,
    // How often Node checks the two timeouts above (its default, 30 s, would let them overrun).
    connectionsCheckingInterval: Math.min(1000, t.headersMs),
  };
  return {
    node,
    fastify: { connectionTimeout: t.idleMs, keepAliveTimeout: t.keepAliveMs, requestTimeout: t.requestMs },
  };
}

/** `::ffff:10.0.0.1` is the IPv4 client 10.0.0.1 on a dual-stack socket. */
function normalise(address: string): string {
  return address.startsWith("::ffff:") && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}

function blockList(entries: readonly string[]): net.BlockList {
  const list = new net.BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split("/") as [string, string | undefined];
    const family = net.isIPv4(addr) ? "ipv4" : "ipv6";
    if (bits === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(bits), family);
  }
  return list;
}

/**
 * Closes a client's connections beyond `maxConnectionsPerClient` as they arrive (before TLS).
 * Trusted proxies are exempt: every client behind them shares their address.
 */
export function capConnectionsPerClient(server: net.Server, http: ResolvedHttp): void {
  const trusted = blockList(http.trustedProxies);
  const open = new Map<string, number>();
  server.on("connection", (socket: net.Socket) => {
    const address = normalise(socket.remoteAddress ?? "");
    if (trusted.check(address, net.isIPv4(address) ? "ipv4" : "ipv6")) return;
    const n = (open.get(address) ?? 0) + 1;
    if (n > http.maxConnectionsPerClient) {
      socket.destroy();
      return;
    }
    open.set(address, n);
    socket.once("close", () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

/**
 * Closes the server: new connections are refused and requests on open ones get 503 at once; those
 * in flight may finish until the deadline, after which every connection still open is cut.
 * Resolves with the number of connections cut.
 */
export async function closeWithDeadline(app: FastifyInstance, deadlineMs: number): Promise<number> {
  let cut = 0;
  const timer = setTimeout(() => {
    const server = app.server as net.Server & { closeAllConnections?: () => void };
    server.getConnections((_err, count) => {
      cut = count;
      server.closeAllConnections?.();
    });
  }, deadlineMs);
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
  }
  return cut;
}
