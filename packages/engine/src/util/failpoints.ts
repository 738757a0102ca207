/**
 * Failpoints (Neon's `fail` crate usage): named places in the engine where a test can inject a
 * failure — an error (`return`), a delay (`sleep(ms)`), or a crash (`exit`, the process dies at
 * once, as a power cut would). Armed from the FAILPOINTS env var at start-up
 * (`name=action;name2=action`) or at run time (`PUT /v1/failpoints`). Disarmed ones cost one Map
 * lookup on a Map that is empty in production.
 */
import { PageserverError } from "../errors.ts";

export type FailpointAction =
  | { kind: "off" }
  | { kind: "return"; message: string }
  | { kind: "sleep"; ms: number }
  | { kind: "exit" };

export class FailpointError extends PageserverError {
  constructor(name: string, message: string) {
    super("PS_ERR_FAILPOINT", `failpoint ${name}: ${message}`, { failpoint: name });
  }
}

const armed = new Map<string, FailpointAction>();

export function parseFailpointAction(text: string): FailpointAction {
  const trimmed = text.trim();
  if (trimmed === "off") return { kind: "off" };
  if (trimmed === "exit" || trimmed === "panic") return { kind: "exit" };
  if (trimmed === "return") return { kind: "return", message: "injected error" };
  const returnWith = /^return\((.*)\)$/.exec(trimmed);
  if (returnWith) return { kind: "return", message: returnWith[1]! || "injected error" };
  const sleep = /^sleep\((\d+)\)$/.exec(trimmed);
  if (sleep) return { kind: "sleep", ms: Number(sleep[1]) };
  throw new PageserverError(
    "PS_ERR_INVALID_ARGUMENT",
    `invalid failpoint action '${text}': expected off, return, return(msg), sleep(ms) or exit`,
  );
}

export function configureFailpoint(name: string, action: FailpointAction): void {
  if (action.kind === "off") armed.delete(name);
  else armed.set(name, action);
}

/** Arms failpoints from `name=action;…` (the FAILPOINTS env var). */
export function configureFailpointsFromEnv(spec: string | undefined): void {
  if (!spec) return;
  for (const part of spec.split(";")) {
    if (!part.trim()) continue;
    const at = part.indexOf("=");
    if (at < 0)
      throw new PageserverError(
        "PS_ERR_INVALID_ARGUMENT",
        `invalid FAILPOINTS entry '${part}': expected name=action`,
      );
    configureFailpoint(part.slice(0, at).trim(), parseFailpointAction(part.slice(at + 1)));
  }
}

export function listFailpoints(): Array<{ name: string; action: FailpointAction }> {
  return [...armed].map(([name, action]) => ({ name, action }));
}

/** Evaluates a failpoint: throws, sleeps, or kills the process when armed. */
export async function failpoint(name: string): Promise<void> {
  if (armed.size === 0) return;
  const action = armed.get(name);
  if (!action) return;
  switch (action.kind) {
    case "return":
      throw new FailpointError(name, action.message);
    case "sleep":
      await new Promise((resolve) => setTimeout(resolve, action.ms));
      return;
    case "exit":
      process.stderr.write(`failpoint ${name}: exiting\n`);
      process.exit(1);
      return;
    case "off":
      return;
  }
}
