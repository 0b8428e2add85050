/**
 * The `pg` pool as Kysely sees it, made to survive PostgreSQL restarts and failovers.
 *
 * `pg` reports a lost connection (57P01 on a restart, a reset socket on a failover) as an
 * `'error'` event on the pool (idle clients) or on the client (checked out, even when a query
 * got the error too); with no listener Node turns that event into an uncaught exception that
 * ends the process. Here every pool and client has a listener, a broken client is dropped by the
 * pool on release (pg-pool checks that it is still queryable), and failures to connect or to
 * query that mean "unreachable" become METADATA_UNAVAILABLE, so each entry point answers the same
 * retryable error and the next request opens a fresh connection once the database is back.
 */
import type { PostgresPool, PostgresPoolClient } from "kysely";
import type pg from "pg";
import { isUnavailable, unavailable } from "./errors.js";

const ignore = (): void => undefined;

function translated<T>(p: Promise<T>): Promise<T> {
  return p.catch((e: unknown) => {
    throw isUnavailable(e) ? unavailable(e) : e;
  });
}

export function resilientPool(pool: pg.Pool): PostgresPool {
  // Idle clients: pg-pool removes the client itself; the listener only keeps the process alive.
  pool.on("error", ignore);
  const wrapped = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  return {
    async connect() {
      const client = await translated(pool.connect());
      let w = wrapped.get(client);
      if (!w) {
        // Errors while checked out reach the pending query (if any) as a rejection; the event
        // itself must not become an uncaught exception.
        client.on("error", ignore);
        const c = client;
        // Kysely passes SQL text and parameters (no cursor is configured).
        const query = (text: string, params: readonly unknown[]) => translated(c.query(text, [...params]));
        w = {
          query: query as unknown as PostgresPoolClient["query"],
          release: () => {
            c.release();
          },
        };
        wrapped.set(client, w);
      }
      return w;
    },
    end: () => pool.end(),
  };
}
