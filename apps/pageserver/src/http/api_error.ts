/**
 * One table from engine errors to HTTP statuses, applied once at the edge (Neon's ApiError).
 * Every error body is `{"msg": "..."}`.
 */
import {
  ConflictError,
  CorruptionError,
  InvalidArgumentError,
  InvalidBranchLsnError,
  MissingKeyError,
  NotFoundError,
  PageserverError,
  PreconditionError,
  ShuttingDownError,
  StorageIoError,
  TimeoutError,
  UnavailableError,
  WalRedoError,
} from "@pageserver/engine";

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export class UnauthorizedError extends HttpError {
  constructor(message: string) {
    super(401, message);
  }
}

export class ForbiddenError extends HttpError {
  constructor(message: string) {
    super(403, message);
  }
}

const STATUS_BY_CLASS: Array<[new (...args: never[]) => Error, number]> = [
  [InvalidArgumentError, 400],
  [NotFoundError, 404],
  [InvalidBranchLsnError, 406],
  [TimeoutError, 408],
  [ConflictError, 409],
  [PreconditionError, 412],
  [ShuttingDownError, 503],
  [UnavailableError, 503],
  [CorruptionError, 500],
  [StorageIoError, 500],
  [WalRedoError, 500],
  [MissingKeyError, 500],
];

export function statusOf(error: unknown): number {
  if (error instanceof HttpError) return error.statusCode;
  for (const [cls, status] of STATUS_BY_CLASS) if (error instanceof cls) return status;
  if (error instanceof PageserverError && error.code === "PS_ERR_UNSUPPORTED") return 400;
  const fastifyStatus = (error as { statusCode?: unknown }).statusCode;
  if (typeof fastifyStatus === "number" && fastifyStatus >= 400 && fastifyStatus < 600)
    return fastifyStatus;
  return 500;
}

export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
