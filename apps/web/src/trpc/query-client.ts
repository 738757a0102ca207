/**
 * The QueryClient defaults shared by every page. Live views poll or subscribe, so data is fresh
 * for a short time only; failed queries retry once (a pageserver that is down answers fast with
 * the proxy's 502, and the console shows that message rather than spinning).
 */
import { QueryClient } from "@tanstack/react-query";

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { staleTime: 1000, retry: 1, refetchOnWindowFocus: false },
      mutations: { retry: false },
    },
  });
}
