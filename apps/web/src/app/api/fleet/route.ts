/**
 * The fleet registry over HTTP for the console's own pages: GET lists, POST `{name, url}` adds,
 * DELETE `?name=` removes (added pageservers only). Errors are `{error: message}` with 400.
 */
import { z } from "zod";
import { addNode, FleetError, listFleet, removeNode } from "~/server/fleet";

export const dynamic = "force-dynamic";

function failure(error: unknown): Response {
  const message =
    error instanceof z.ZodError
      ? error.issues
          .map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message))
          .join("; ")
      : error instanceof FleetError || error instanceof SyntaxError
        ? error.message
        : null;
  if (message === null) throw error;
  return Response.json({ error: message }, { status: 400 });
}

export function GET(): Response {
  return Response.json({ pageservers: listFleet() });
}

export async function POST(request: Request): Promise<Response> {
  try {
    const entry = addNode((await request.json()) as { name: string; url: string });
    return Response.json(entry, { status: 201 });
  } catch (error) {
    return failure(error);
  }
}

export function DELETE(request: Request): Response {
  try {
    removeNode(new URL(request.url).searchParams.get("name") ?? "");
    return Response.json({ removed: true });
  } catch (error) {
    return failure(error);
  }
}
