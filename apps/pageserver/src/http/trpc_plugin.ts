/**
 * Mounts the API package's tRPC router at `/trpc` (queries, mutations, and SSE subscriptions for
 * the console's live views), with an ApiContext built from the process's context.
 */
import { type ApiContext, appRouter } from "@pageserver/api";
import { fastifyTRPCPlugin } from "@trpc/server/adapters/fastify";
import type { FastifyInstance } from "fastify";
import type { PageserverContext } from "../pageserver_context.ts";
import { measureUtilization } from "./routes/status.ts";

export function apiContextOf(context: PageserverContext): ApiContext {
  const { config } = context;
  return {
    nodeId: config.nodeId,
    startedAtMs: context.startedAtMs,
    listen: {
      http: `${config.listenHttpAddr.host}:${config.listenHttpAddr.port}`,
      pg: `${config.listenPgAddr.host}:${config.listenPgAddr.port}`,
    },
    tenants: context.tenants,
    latency: context.metrics.latency,
    tasks: () => context.tasks.list(),
    utilization: () => measureUtilization(context),
    remoteConsistentLsn: (timeline) => context.remoteConsistentLsn(timeline),
  };
}

export async function registerTrpc(
  app: FastifyInstance,
  context: PageserverContext,
): Promise<void> {
  const apiContext = apiContextOf(context);
  await app.register(fastifyTRPCPlugin, {
    prefix: "/trpc",
    trpcOptions: { router: appRouter, createContext: () => apiContext },
  });
}
