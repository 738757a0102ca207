/**
 * The logging interface the engine writes to: the subset of pino's API it uses, so the server
 * injects its pino logger (with tenant and timeline bound via `child`) and tests inject nothing.
 */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

class SilentLogger implements Logger {
  debug(): void {}
  info(): void {}
  warn(): void {}
  error(): void {}
  child(): Logger {
    return this;
  }
}

export const silentLogger: Logger = new SilentLogger();
