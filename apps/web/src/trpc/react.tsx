"use client";
import type { AppRouter } from "@pageserver/api";
/**
 * tRPC in the browser. The console talks to many pageservers, each through the same-origin
 * proxy `/api/ps/<node>/trpc`; `NodeProvider` gives its subtree the client of one node, and the
 * node's name is the query-key prefix, so two nodes' `tenant.list` never share a cache entry.
 * Subscriptions go over SSE (httpSubscriptionLink), everything else over batched HTTP.
 */
import { QueryClientProvider, useQueryClient } from "@tanstack/react-query";
import {
  createTRPCClient,
  httpBatchLink,
  httpSubscriptionLink,
  splitLink,
  type TRPCClientErrorLike,
} from "@trpc/client";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import { type ReactNode, useMemo, useState } from "react";
import { makeQueryClient } from "./query-client";

export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
export type ApiError = TRPCClientErrorLike<AppRouter>;

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<
  AppRouter,
  { keyPrefix: true }
>();

export function nodeTrpcUrl(node: string): string {
  return `/api/ps/${encodeURIComponent(node)}/trpc`;
}

function makeClient(node: string) {
  const url = nodeTrpcUrl(node);
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({ url }),
        false: httpBatchLink({ url, maxURLLength: 4000 }),
      }),
    ],
  });
}

let browserQueryClient: ReturnType<typeof makeQueryClient> | undefined;

/** One QueryClient per browser tab; a fresh one per server render. */
function getQueryClient() {
  if (typeof window === "undefined") return makeQueryClient();
  browserQueryClient ??= makeQueryClient();
  return browserQueryClient;
}

export function QueryProvider({ children }: { children: ReactNode }) {
  const [queryClient] = useState(getQueryClient);
  return <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>;
}

export function NodeProvider({ node, children }: { node: string; children: ReactNode }) {
  const queryClient = useQueryClient();
  const trpcClient = useMemo(() => makeClient(node), [node]);
  return (
    <TRPCProvider trpcClient={trpcClient} queryClient={queryClient} keyPrefix={node}>
      {children}
    </TRPCProvider>
  );
}
