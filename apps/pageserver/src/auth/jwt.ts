/**
 * JWT validation as Neon does it: EdDSA (Ed25519) tokens signed by the control plane, verified
 * with the public keys at `auth_validation_public_key_path` (a PEM file, or a directory of them).
 * Claims `{tenant_id?, scope}`: `pageserverapi` may do anything; `tenant` only for its tenant;
 * other scopes are refused.
 */
import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

export type Scope =
  | "tenant"
  | "pageserverapi"
  | "admin"
  | "safekeeperdata"
  | "generations_api"
  | "infra"
  | "scrubber";

export interface Claims {
  readonly scope: Scope | string;
  readonly tenant_id?: string;
}

export class AuthError extends Error {
  constructor(
    message: string,
    readonly kind: "unauthorized" | "forbidden",
  ) {
    super(message);
  }
}

export function loadPublicKeys(keyPath: string): KeyObject[] {
  const files = statSync(keyPath).isDirectory()
    ? readdirSync(keyPath)
        .filter((f) => !f.startsWith("."))
        .map((f) => path.join(keyPath, f))
    : [keyPath];
  const keys = files.map((file) => createPublicKey(readFileSync(file)));
  if (keys.length === 0) throw new Error(`no public keys found at ${keyPath}`);
  for (const key of keys) {
    if (key.asymmetricKeyType !== "ed25519") {
      throw new Error(
        `public key at ${keyPath} is ${key.asymmetricKeyType}, expected ed25519 (EdDSA)`,
      );
    }
  }
  return keys;
}

function base64url(text: string): Buffer {
  return Buffer.from(text, "base64url");
}

/** Verifies signature and expiry; returns the claims or throws AuthError (unauthorized). */
export function verifyToken(token: string, keys: readonly KeyObject[], nowMs = Date.now()): Claims {
  const parts = token.split(".");
  if (parts.length !== 3)
    throw new AuthError("malformed JWT: expected three dot-separated parts", "unauthorized");
  const [headerText, payloadText, signatureText] = parts as [string, string, string];
  let header: { alg?: string };
  let payload: Claims & { exp?: number };
  try {
    header = JSON.parse(base64url(headerText).toString("utf8"));
    payload = JSON.parse(base64url(payloadText).toString("utf8"));
  } catch {
    throw new AuthError("malformed JWT: header or payload is not JSON", "unauthorized");
  }
  if (header.alg !== "EdDSA")
    throw new AuthError(`JWT algorithm ${header.alg} not allowed: expected EdDSA`, "unauthorized");
  const signed = Buffer.from(`${headerText}.${payloadText}`);
  const signature = base64url(signatureText);
  if (!keys.some((key) => verify(null, signed, key, signature))) {
    throw new AuthError("JWT signature does not verify with any known public key", "unauthorized");
  }
  if (typeof payload.exp === "number" && payload.exp * 1000 < nowMs)
    throw new AuthError("JWT has expired", "unauthorized");
  if (typeof payload.scope !== "string")
    throw new AuthError("JWT has no scope claim", "unauthorized");
  return payload;
}

/** Neon's check_permission: may these claims act on `tenantId` (null = node-wide)? */
export function checkPermission(claims: Claims, tenantId: string | null): void {
  if (claims.scope === "pageserverapi") return;
  if (claims.scope === "tenant") {
    if (tenantId === null)
      throw new AuthError("a tenant-scoped token cannot call a node-wide endpoint", "forbidden");
    if (claims.tenant_id !== tenantId)
      throw new AuthError(`token is for tenant ${claims.tenant_id}, not ${tenantId}`, "forbidden");
    return;
  }
  throw new AuthError(`JWT scope '${claims.scope}' is not allowed on the pageserver`, "forbidden");
}
