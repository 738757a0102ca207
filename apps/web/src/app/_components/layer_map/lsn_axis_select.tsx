"use client";
/** The layer map's LSN axis choice: linear in LSN, or by rank, where a short layer gets a row too. */
import type { LsnAxis } from "~/lib/layer_map_renderer";

export function LsnAxisSelect({
  value,
  onChange,
}: {
  value: LsnAxis;
  onChange: (axis: LsnAxis) => void;
}) {
  return (
    <label>
      LSN axis{" "}
      <select
        value={value}
        onChange={(e) => onChange(e.target.value as LsnAxis)}
        data-testid="lsn-axis"
      >
        <option value="linear">linear</option>
        <option value="rank">by rank (short layers visible)</option>
      </select>
    </label>
  );
}
