/**
 * The error an import of a PostgreSQL data directory (or a tar of one) raises on bad input: a
 * relation or SLRU file whose size is not a multiple of 8 KiB, a damaged tar header, a missing or
 * unreadable pg_control. It always names the file (`context.file`) and is an InvalidArgumentError:
 * the input is wrong, not the pageserver.
 */
import { type ErrorContext, InvalidArgumentError } from "../errors.ts";

export class DatadirImportError extends InvalidArgumentError {
  readonly file: string;

  constructor(message: string, file: string, context: ErrorContext = {}) {
    super(message, { ...context, file });
    this.file = file;
  }
}
