/**
 * The same-origin proxy from the browser to each pageserver's tRPC endpoint:
 * `/api/ps/<node>/trpc/<procedures>?<query>` → `<node url>/trpc/<procedures>?<query>`, GET and
 * POST, bodies and answers streamed (an SSE subscription stays open as long as the browser keeps
 * it, and ends upstream when the browser goes away: the request's abort signal is passed on).
 * The pageserver needs no CORS, and the browser never learns the pageservers' addresses.
 *
 * An unreachable pageserver answers 502 with a tRPC-shaped error, so the console shows
 * "pageserver ps1 (http://…) is unreachable: …" where the data would be.
 */
import { findNode } from "~/server/fleet";

export const dynamic = "force-dynamic";

/** Hop-by-hop and encoding headers that must not be copied across the proxy. */
const DROPPED_HEADERS = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-encoding",
  "content-length",
  "host",
  "upgrade",
]);

function copyHeaders(from: Headers): Headers {
  const headers = new Headers();
  from.forEach((value, name) => {
    if (!DROPPED_HEADERS.has(name.toLowerCase())) headers.set(name, value);
  });
  return headers;
}

function trpcError(status: number, message: string): Response {
  const code = status === 404 ? "NOT_FOUND" : "BAD_GATEWAY";
  return Response.json(
    { error: { message, code: -32000, data: { code, httpStatus: status } } },
    { status },
  );
}

interface RouteParams {
  params: Promise<{ node: string; path: string[] }>;
}

async function forward(request: Request, { params }: RouteParams): Promise<Response> {
  const { node, path } = await params;
  const entry = findNode(decodeURIComponent(node));
  if (!entry) return trpcError(404, `no pageserver named '${node}' in the fleet`);
  const search = new URL(request.url).search;
  const target = `${entry.url}/trpc/${path.map(encodeURIComponent).join("/")}${search}`;
  let upstream: Response;
  try {
    upstream = await fetch(target, {
      method: request.method,
      headers: copyHeaders(request.headers),
      body:
        request.method === "GET" || request.method === "HEAD"
          ? undefined
          : await request.arrayBuffer(),
      signal: request.signal,
      redirect: "manual",
      cache: "no-store",
    });
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    return trpcError(
      502,
      `pageserver ${entry.name} (${entry.url}) is unreachable: ${cause ?? (error as Error).message}`,
    );
  }
  const headers = copyHeaders(upstream.headers);
  if (headers.get("content-type")?.startsWith("text/event-stream")) {
    // `no-transform` keeps the response compressor from buffering the stream.
    headers.set("cache-control", "no-cache, no-transform");
    headers.set("x-accel-buffering", "no");
  }
  return new Response(upstream.body, { status: upstream.status, headers });
}

export const GET = forward;
export const POST = forward;
