"use client";
/**
 * What every operation shows next to its button: "working…" while pending, the result once it
 * succeeded, and the server's own error message when it failed (never a generic "failed").
 */
import type { ReactNode } from "react";

export interface MutationLike {
  readonly isPending: boolean;
  readonly isSuccess: boolean;
  readonly isError: boolean;
  readonly error: { message: string } | null;
}

export function MutationStatus({
  mutation,
  success,
  testId,
}: {
  mutation: MutationLike;
  success?: ReactNode;
  testId?: string;
}) {
  if (mutation.isPending)
    return (
      <span className="status pending" data-testid={testId ? `${testId}-pending` : undefined}>
        working…
      </span>
    );
  if (mutation.isError)
    return (
      <span
        className="status error"
        role="alert"
        data-testid={testId ? `${testId}-error` : "op-error"}
      >
        {mutation.error?.message ?? "failed"}
      </span>
    );
  if (mutation.isSuccess && success !== undefined)
    return (
      <span className="status ok" data-testid={testId ? `${testId}-ok` : undefined}>
        {success}
      </span>
    );
  return null;
}

/** A query's loading and error states; renders children once data is there. */
export function QueryState({
  query,
  what,
  children,
}: {
  query: { isPending: boolean; isError: boolean; error: { message: string } | null };
  what: string;
  children: ReactNode;
}) {
  if (query.isError)
    return (
      <div className="status error" role="alert">
        Cannot load {what}: {query.error?.message}
      </div>
    );
  if (query.isPending) return <div className="muted">Loading {what}…</div>;
  return <>{children}</>;
}
