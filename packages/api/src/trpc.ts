/**
 * tRPC plumbing: initialisation with the ApiContext, the error formatter that turns engine errors
 * into tRPC codes (one table, like the HTTP edge's), and the procedure builders.
 */
import {
  ConflictError,
  InvalidArgumentError,
  InvalidBranchLsnError,
  NotFoundError,
  PreconditionError,
  ShuttingDownError,
  TimeoutError,
  UnavailableError,
} from "@pageserver/engine";
import { TRPCError, initTRPC } from "@trpc/server";
import type { ApiContext } from "./context.ts";

const t = initTRPC.context<ApiContext>().create({
  errorFormatter({ shape, error }) {
    return { ...shape, data: { ...shape.data, engineCode: (error.cause as { code?: string } | undefined)?.code ?? null } };
  },
});

type TrpcCode = ConstructorParameters<typeof TRPCError>[0]["code"];

const CODE_BY_CLASS: Array<[new (...args: never[]) => Error, TrpcCode]> = [
  [InvalidArgumentError, "BAD_REQUEST"],
  [InvalidBranchLsnError, "BAD_REQUEST"],
  [NotFoundError, "NOT_FOUND"],
  [ConflictError, "CONFLICT"],
  [PreconditionError, "PRECONDITION_FAILED"],
  [TimeoutError, "TIMEOUT"],
  [ShuttingDownError, "SERVICE_UNAVAILABLE"],
  [UnavailableError, "SERVICE_UNAVAILABLE"],
];

/** Maps an engine error to a TRPCError carrying its message (the console shows it as is). */
export function toTrpcError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  for (const [cls, code] of CODE_BY_CLASS) {
    if (error instanceof cls) return new TRPCError({ code, message: error.message, cause: error });
  }
  return new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: (error as Error)?.message ?? String(error), cause: error });
}

const engineErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) throw toTrpcError(result.error.cause ?? result.error);
  return result;
});

export const router = t.router;
export const publicProcedure = t.procedure.use(engineErrors);
export const createCallerFactory = t.createCallerFactory;
