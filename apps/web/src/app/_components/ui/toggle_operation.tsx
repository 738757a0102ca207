"use client";
/**
 * An operation that flips a durable state of the server (archive/unarchive, block/unblock GC):
 * one button named for the next step, a line saying what the current state means, and the
 * mutation's status beside it.
 */
import type { ReactNode } from "react";
import { type MutationLike, MutationStatus } from "./mutation_status";

export function ToggleOperation({
  on,
  labels,
  hints,
  mutation,
  onToggle,
  success,
  testId,
}: {
  on: boolean;
  /** The button's text when the state is on, and when it is off. */
  labels: { on: string; off: string };
  hints: { on: string; off: string };
  mutation: MutationLike;
  onToggle: (next: boolean) => void;
  success?: ReactNode;
  testId: string;
}) {
  return (
    <div className="row">
      <button
        type="button"
        disabled={mutation.isPending}
        onClick={() => onToggle(!on)}
        data-testid={testId}
      >
        {on ? labels.on : labels.off}
      </button>
      <span className="muted small">{on ? hints.on : hints.off}</span>
      <MutationStatus mutation={mutation} testId={testId} success={success} />
    </div>
  );
}
