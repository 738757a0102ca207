/**
 * Identifiers: tenant and timeline ids are 16 bytes, written as 32 lowercase hex digits (Neon's
 * text form); generations are u32 attach counters, `null` standing for Neon's `Generation::None`.
 */
import { randomBytes } from "node:crypto";
import { InvalidArgumentError } from "./errors.ts";

export type TenantId = string & { readonly __brand: "TenantId" };
export type TimelineId = string & { readonly __brand: "TimelineId" };
export type NodeId = number & { readonly __brand: "NodeId" };
/** Generation: a number (u32) or `null` (Neon's `None`, which sorts lowest). */
export type Generation = (number & { readonly __brand: "Generation" }) | null;

const ID_TEXT = /^[0-9a-f]{32}$/;

function parseId(text: string, what: string): string {
  if (typeof text !== "string" || !ID_TEXT.test(text)) {
    throw new InvalidArgumentError(
      `invalid ${what} '${String(text).slice(0, 80)}': expected 32 lowercase hex digits`,
    );
  }
  return text;
}

export function parseTenantId(text: string): TenantId {
  return parseId(text, "tenant id") as TenantId;
}

export function parseTimelineId(text: string): TimelineId {
  return parseId(text, "timeline id") as TimelineId;
}

export function generateTenantId(): TenantId {
  return randomBytes(16).toString("hex") as TenantId;
}

export function generateTimelineId(): TimelineId {
  return randomBytes(16).toString("hex") as TimelineId;
}

export function isId(text: string): boolean {
  return ID_TEXT.test(text);
}

/**
 * Neon's tenant shard id text: `<tenant>` (unsharded) or `<tenant>-NNCC` (shard number and count,
 * two hex digits each). We serve unsharded tenants only; a shard suffix parses but is reported.
 */
export interface TenantShardId {
  tenantId: TenantId;
  shardNumber: number;
  shardCount: number;
}

export function parseTenantShardId(text: string): TenantShardId {
  const dash = text.indexOf("-");
  if (dash === -1) return { tenantId: parseTenantId(text), shardNumber: 0, shardCount: 0 };
  const suffix = text.slice(dash + 1);
  if (!/^[0-9a-f]{4}$/.test(suffix)) {
    throw new InvalidArgumentError(`invalid tenant shard id '${text}': expected <tenant>-NNCC`);
  }
  return {
    tenantId: parseTenantId(text.slice(0, dash)),
    shardNumber: Number.parseInt(suffix.slice(0, 2), 16),
    shardCount: Number.parseInt(suffix.slice(2, 4), 16),
  };
}

export function asGeneration(value: number | null): Generation {
  if (value === null) return null;
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new InvalidArgumentError(`invalid generation ${value}: expected a u32`);
  }
  return value as Generation;
}

/** `-%08x` suffix text of a generation, empty for None. */
export function generationSuffix(generation: Generation): string {
  return generation === null ? "" : generation.toString(16).padStart(8, "0");
}

/** Orders generations with None lowest. */
export function compareGenerations(a: Generation, b: Generation): number {
  return (a ?? -1) - (b ?? -1);
}
