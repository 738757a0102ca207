/**
 * tRPC plumbing (YOU PROBABLY DON'T NEED TO EDIT THIS FILE):
 *
 * 1. CONTEXT: the ApiContext the pageserver builds once (context.ts).
 * 2. INITIALIZATION: the error formatter. Every error reaches the client with a message a person
 *    can read: engine errors keep theirs (and their `PS_ERR_*` code in `data.engineCode`), input
 *    validation errors become one line naming each bad field instead of zod's JSON dump.
 * 3. ROUTER & PROCEDURE: `publicProcedure` maps engine error classes to tRPC codes through one
 *    table, like the HTTP edge's.
 */
import {
  ConflictError,
  InvalidArgumentError,
  InvalidBranchLsnError,
  NotFoundError,
  PageserverError,
  PreconditionError,
  ShuttingDownError,
  TimeoutError,
  UnavailableError,
} from "@pageserver/engine";
import { initTRPC, TRPCError } from "@trpc/server";
import type { ApiContext } from "./context.ts";

interface ValidationIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>;
}

function isIssueList(value: unknown): value is ValidationIssue[] {
  return Array.isArray(value) && value.every((issue) => typeof issue?.message === "string");
}

/** "invalid input: field 'tenantId': invalid tenant id 'x': expected 32 lowercase hex digits". */
export function describeIssues(issues: readonly ValidationIssue[]): string {
  const parts = issues.map((issue) => {
    const path = (issue.path ?? [])
      .map((segment) => String(typeof segment === "object" ? segment.key : segment))
      .join(".");
    return path ? `field '${path}': ${issue.message}` : issue.message;
  });
  return `invalid input: ${parts.join("; ")}`;
}

const t = initTRPC.context<ApiContext>().create({
  errorFormatter({ shape, error }) {
    const cause = error.cause as { code?: unknown; issues?: unknown } | undefined;
    const message =
      error.code === "BAD_REQUEST" && isIssueList(cause?.issues)
        ? describeIssues(cause.issues)
        : shape.message;
    const engineCode = cause instanceof PageserverError ? cause.code : null;
    return { ...shape, message, data: { ...shape.data, engineCode } };
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
  return new TRPCError({
    code: "INTERNAL_SERVER_ERROR",
    message: (error as Error)?.message ?? String(error),
    cause: error,
  });
}

/**
 * A procedure's own throw arrives here wrapped as INTERNAL_SERVER_ERROR with the original as its
 * cause: map that cause. Anything else (input validation, a TRPCError thrown on purpose) already
 * has its code and passes through unchanged.
 */
const engineErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.code === "INTERNAL_SERVER_ERROR" && result.error.cause)
    throw toTrpcError(result.error.cause);
  return result;
});

export const router = t.router;
export const publicProcedure = t.procedure.use(engineErrors);
export const createCallerFactory = t.createCallerFactory;
