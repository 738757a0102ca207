/**
 * Tenant states and their transitions (Neon's TenantState):
 *
 *     Attaching ──▶ Activating ──▶ Active ──▶ Stopping ──▶ (gone)
 *         │             │            │
 *         └─────────────┴────────────┴──▶ Broken{reason} ──▶ Stopping
 *
 * Broken is terminal except for detach/delete; its reason is shown by the API and the console.
 */
import { assert } from "../assert.ts";

export type TenantState =
  | { readonly slug: "Attaching" }
  | { readonly slug: "Activating" }
  | { readonly slug: "Active" }
  | { readonly slug: "Stopping" }
  | { readonly slug: "Broken"; readonly reason: string };

const ALLOWED: Record<TenantState["slug"], ReadonlyArray<TenantState["slug"]>> = {
  Attaching: ["Activating", "Broken", "Stopping"],
  Activating: ["Active", "Broken", "Stopping"],
  Active: ["Stopping", "Broken"],
  Broken: ["Stopping"],
  Stopping: [],
};

export function checkTransition(from: TenantState, to: TenantState): void {
  assert(
    ALLOWED[from.slug].includes(to.slug),
    `tenant state ${from.slug} → ${to.slug} is not allowed`,
  );
}

/** Neon's JSON form: `{"slug": "Active"}` or `{"slug": "Broken", "data": {"reason": …}}`. */
export function tenantStateJson(state: TenantState): { slug: string; data?: unknown } {
  if (state.slug === "Broken")
    return { slug: "Broken", data: { reason: state.reason, backtrace: "" } };
  return { slug: state.slug };
}
