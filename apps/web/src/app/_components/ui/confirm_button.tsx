"use client";
/**
 * A button for destructive operations: the first click asks, inline, "Delete …? Confirm /
 * Cancel"; only Confirm runs the action. Inline rather than `window.confirm` so that the
 * question names exactly what goes away, and stays on screen next to the result.
 */
import { useState } from "react";

export function ConfirmButton({
  label,
  question,
  onConfirm,
  disabled,
  testId,
  danger = true,
}: {
  label: string;
  question: string;
  onConfirm: () => void;
  disabled?: boolean;
  testId?: string;
  danger?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button
        type="button"
        className={danger ? "danger" : undefined}
        disabled={disabled}
        data-testid={testId}
        onClick={() => setAsking(true)}
      >
        {label}
      </button>
    );
  return (
    <span className="confirm">
      <span>{question}</span>
      <button
        type="button"
        className={danger ? "danger" : undefined}
        data-testid={testId ? `${testId}-confirm` : undefined}
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        Confirm
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}
