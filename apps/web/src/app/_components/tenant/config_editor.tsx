"use client";
/**
 * The tenant config: every knob with its effective value, overrides highlighted (with a reset),
 * knobs this pageserver stores but does not act on marked "inert"; and a form that sets one
 * override (the value is JSON: 8388608, "10m", {"kind": "tiered"}). The pageserver validates
 * it and names the bad field when it refuses.
 */
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { MutationStatus } from "../ui/mutation_status";

export interface TenantConfigView {
  readonly overrides: Record<string, unknown>;
  readonly effective: Record<string, unknown>;
  readonly inert: readonly string[];
}

function show(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function ConfigEditor({
  tenantId,
  config,
  onChanged,
}: {
  tenantId: string;
  config: TenantConfigView;
  onChanged: () => void;
}) {
  const trpc = useTRPC();
  const knobs = Object.keys(config.effective).sort();
  const [knob, setKnob] = useState(knobs[0] ?? "");
  const [value, setValue] = useState("");
  const [parseError, setParseError] = useState<string | null>(null);
  const patch = useMutation(trpc.tenant.patchConfig.mutationOptions({ onSuccess: onChanged }));
  const submit = () => {
    let parsed: unknown;
    const text = value.trim();
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text; // A bare word such as 10m is meant as a string.
    }
    if (text === "") {
      setParseError("enter a value (JSON, or a bare string such as 10m)");
      return;
    }
    setParseError(null);
    patch.mutate({ tenantId, patch: { [knob]: parsed } });
  };
  return (
    <div>
      <table className="table config" data-testid="config-table">
        <thead>
          <tr>
            <th>knob</th>
            <th>effective</th>
            <th>override</th>
          </tr>
        </thead>
        <tbody>
          {knobs.map((name) => {
            const overridden = name in config.overrides;
            return (
              <tr
                key={name}
                className={overridden ? "overridden" : undefined}
                data-testid={`config-${name}`}
              >
                <td className="mono">
                  {name}
                  {config.inert.includes(name) ? <span className="muted small"> inert</span> : null}
                </td>
                <td className="mono">{show(config.effective[name])}</td>
                <td>
                  {overridden ? (
                    <>
                      <span className="badge">override</span>{" "}
                      <button
                        type="button"
                        className="link"
                        onClick={() => patch.mutate({ tenantId, patch: { [name]: null } })}
                      >
                        reset
                      </button>
                    </>
                  ) : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <form
        className="row"
        onSubmit={(event) => {
          event.preventDefault();
          submit();
        }}
      >
        <label>
          set{" "}
          <select value={knob} onChange={(e) => setKnob(e.target.value)} data-testid="config-knob">
            {knobs.map((name) => (
              <option key={name}>{name}</option>
            ))}
          </select>
        </label>
        <label>
          to{" "}
          <input
            value={value}
            onChange={(e) => setValue(e.target.value)}
            placeholder="8388608 or 10m"
            className="mono"
            data-testid="config-value"
          />
        </label>
        <button type="submit" disabled={patch.isPending} data-testid="config-submit">
          Set override
        </button>
        <MutationStatus mutation={patch} testId="config" success="saved" />
        {parseError ? <span className="status error">{parseError}</span> : null}
      </form>
    </div>
  );
}
