/**
 * The page service listener (`listen_pg_addr`): accepts PostgreSQL-protocol connections and hands
 * each to a PageServiceConnection. Bound early in start-up (so a taken port fails fast), it
 * accepts only once tenants are loaded.
 */
import type { KeyObject } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import type { PageserverContext } from "../pageserver_context.ts";
import { PageServiceConnection } from "./connection.ts";
import { PageServiceMetrics } from "./page_service_metrics.ts";

export class PageService {
  private readonly context: PageserverContext;
  private readonly authKeys: readonly KeyObject[] | null;
  private readonly server: Server;
  private readonly connections = new Set<PageServiceConnection>();
  private accepting = false;
  private readonly waiting: Socket[] = [];
  private readonly metrics: PageServiceMetrics;

  constructor(context: PageserverContext, authKeys: readonly KeyObject[] | null) {
    this.context = context;
    this.authKeys = authKeys;
    this.metrics = PageServiceMetrics.of(context.metrics.registry, (tenantId, timelineId) =>
      Boolean(
        context.tenants
          .tryGet(tenantId as Parameters<typeof context.tenants.tryGet>[0])
          ?.timelines()
          .some((timeline) => timeline.timelineId === timelineId),
      ),
    );
    this.metrics.setMaxBatchSize(context.config.pipelining, context.config.maxBatchSize);
    this.server = createServer((socket) => this.onConnection(socket));
  }

  /** Binds the listener; returns the port (useful with port 0). */
  bind(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", (error: NodeJS.ErrnoException) =>
        reject(
          new Error(`cannot listen for the page service on ${host}:${port}: ${error.message}`),
        ),
      );
      this.server.listen({ host, port }, () =>
        resolve((this.server.address() as { port: number }).port),
      );
    });
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private onConnection(socket: Socket): void {
    if (!this.accepting) {
      this.waiting.push(socket);
      return;
    }
    const { metrics } = this.context;
    metrics.connectionsStarted.inc({ pageserver_connection_kind: "page_service" });
    const connection = new PageServiceConnection(socket, this.context, this.authKeys, this.metrics);
    this.connections.add(connection);
    void connection.closed.then(() => {
      this.connections.delete(connection);
      metrics.connectionsFinished.inc({ pageserver_connection_kind: "page_service" });
    });
  }

  startAccepting(): void {
    this.accepting = true;
    for (const socket of this.waiting.splice(0)) this.onConnection(socket);
  }

  /** Stops accepting new connections (existing ones continue). */
  async stopAccepting(): Promise<void> {
    this.accepting = false;
    for (const socket of this.waiting.splice(0)) socket.destroy();
    // close() stops the listener now; its callback would wait for every connection to end.
    this.server.close();
  }

  /** Drops every remaining connection. */
  async closeConnections(): Promise<void> {
    const closing = [...this.connections].map((c) => {
      c.close();
      return c.closed;
    });
    await Promise.all(closing);
  }
}
