/**
 * Typed errors of the engine. Every error carries a stable `code` (`PS_ERR_*`), the context it
 * happened in (tenant, timeline, key, LSN, file) and, where there is one, its `cause`. The HTTP and
 * page-service edges map codes to statuses once (see `apps/pageserver/src/http/errors.ts`); here we
 * only say what went wrong.
 */

export interface ErrorContext {
  tenantId?: string;
  timelineId?: string;
  key?: string;
  lsn?: string;
  file?: string;
  [field: string]: string | number | boolean | undefined;
}

export class PageserverError extends Error {
  readonly code: string;
  readonly context: ErrorContext;

  constructor(code: string, message: string, context: ErrorContext = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.context = context;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** Input from outside (a request, a config file, a name) does not parse or is out of range. */
export class InvalidArgumentError extends PageserverError {
  constructor(message: string, context: ErrorContext = {}) {
    super("PS_ERR_INVALID_ARGUMENT", message, context);
  }
}

/** A file on disk is damaged: bad magic, bad checksum, truncated. Never returns wrong data. */
export class CorruptionError extends PageserverError {
  constructor(message: string, context: ErrorContext, cause?: unknown) {
    super("PS_ERR_CORRUPTION", message, context, cause);
  }
}

/** A key has no value at the requested LSN (Neon's MissingKey). */
export class MissingKeyError extends PageserverError {
  constructor(message: string, context: ErrorContext) {
    super("PS_ERR_MISSING_KEY", message, context);
  }
}

/** A WAL record cannot be applied by the in-process redo (for example a PostgreSQL-native one). */
export class WalRedoError extends PageserverError {
  constructor(message: string, context: ErrorContext, cause?: unknown) {
    super("PS_ERR_WAL_REDO", message, context, cause);
  }
}

/** An object that was asked for does not exist (tenant, timeline, layer). */
export class NotFoundError extends PageserverError {
  constructor(message: string, context: ErrorContext = {}) {
    super("PS_ERR_NOT_FOUND", message, context);
  }
}

/** The request conflicts with the current state (exists already, has children, wrong state). */
export class ConflictError extends PageserverError {
  constructor(message: string, context: ErrorContext = {}) {
    super("PS_ERR_CONFLICT", message, context);
  }
}

/** The request cannot be served now, but may be later (not active yet, LSN not yet reached). */
export class UnavailableError extends PageserverError {
  constructor(message: string, context: ErrorContext = {}) {
    super("PS_ERR_UNAVAILABLE", message, context);
  }
}

/** Waiting for something (an LSN, a lock) took longer than allowed. */
export class TimeoutError extends PageserverError {
  constructor(message: string, context: ErrorContext = {}) {
    super("PS_ERR_TIMEOUT", message, context);
  }
}

/** The object is shutting down; the caller should stop, not retry here. */
export class ShuttingDownError extends PageserverError {
  constructor(message = "shutting down", context: ErrorContext = {}) {
    super("PS_ERR_SHUTTING_DOWN", message, context);
  }
}

/** A precondition about the request itself (Neon's 406/412 cases): branch LSN out of range etc. */
export class PreconditionError extends PageserverError {
  constructor(message: string, context: ErrorContext = {}) {
    super("PS_ERR_PRECONDITION", message, context);
  }
}

/** The local disk or an I/O call failed for a reason other than corruption (ENOSPC, EIO...). */
export class StorageIoError extends PageserverError {
  constructor(message: string, context: ErrorContext, cause?: unknown) {
    super("PS_ERR_IO", message, context, cause);
  }
}

/** A branch start LSN is not acceptable (Neon answers 406): below the GC cutoff or the ancestor's own branch point. */
export class InvalidBranchLsnError extends PageserverError {
  constructor(message: string, context: ErrorContext = {}) {
    super("PS_ERR_INVALID_BRANCH_LSN", message, context);
  }
}
