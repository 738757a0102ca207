/**
 * The management API as a fastify instance (built, not listening: tests use `inject()`).
 * Route groups are plugins; one error handler maps every error to `{"msg": …}` with its status;
 * auth (NeonJWT) is a preHandler so that body-addressed routes can check the tenant too.
 */

import type { KeyObject } from "node:crypto";
import { PreconditionError } from "@pageserver/engine";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import { type AuthError, type Claims, checkPermission, verifyToken } from "../auth/jwt.ts";
import type { PageserverContext } from "../pageserver_context.ts";
import { messageOf, statusOf } from "./api_error.ts";
import { lsnRoutes } from "./routes/lsn_routes.ts";
import { statusRoutes } from "./routes/status.ts";
import { tenantRoutes } from "./routes/tenants.ts";
import { timelineRoutes } from "./routes/timelines.ts";
import { tenantFromPath } from "./validation.ts";

const TIMELINE_ROUTE = "/v1/tenant/:tenant_shard_id/timeline/:timeline_id";

/** Neon serves these without a token. */
const UNAUTHENTICATED_ROUTES = new Set(["/v1/status", "/metrics"]);

export interface HttpAppOptions {
  readonly context: PageserverContext;
  /** Public keys when http_auth_type = NeonJWT; null for Trust. */
  readonly authKeys: readonly KeyObject[] | null;
  /** Extra plugins (the tRPC router). */
  readonly plugins?: ReadonlyArray<(app: FastifyInstance) => Promise<void> | void>;
}

function tenantOfRequest(request: FastifyRequest): string | null {
  const params = request.params as { tenant_shard_id?: string } | undefined;
  if (params?.tenant_shard_id) return tenantFromPath(params.tenant_shard_id);
  const body = request.body as { tenant_id?: unknown } | undefined;
  if (request.url.startsWith("/v1/tenant/config") && typeof body?.tenant_id === "string")
    return body.tenant_id;
  return null;
}

function authorize(request: FastifyRequest, keys: readonly KeyObject[]): void {
  const route = request.routeOptions.url ?? request.url;
  if (UNAUTHENTICATED_ROUTES.has(route)) return;
  const header = request.headers.authorization;
  if (!header?.startsWith("Bearer "))
    throw Object.assign(new Error("missing Authorization: Bearer <JWT> header"), {
      statusCode: 401,
    });
  let claims: Claims;
  try {
    claims = verifyToken(header.slice("Bearer ".length).trim(), keys);
    checkPermission(claims, tenantOfRequest(request));
  } catch (error) {
    const authError = error as AuthError;
    throw Object.assign(new Error(authError.message), {
      statusCode: authError.kind === "forbidden" ? 403 : 401,
    });
  }
}

export async function buildHttpApp(options: HttpAppOptions): Promise<FastifyInstance> {
  const { context } = options;
  const app = Fastify({
    logger: false,
    routerOptions: { maxParamLength: 5000 },
    bodyLimit: 16 * 1024 * 1024,
  });
  // An empty body with a JSON content type is "no body", as Neon's clients sometimes send.
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    const text = (body as string).trim();
    if (text === "") return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (error) {
      done(
        Object.assign(new Error(`malformed JSON body: ${(error as Error).message}`), {
          statusCode: 400,
        }),
        undefined,
      );
    }
  });
  app.setErrorHandler((error, request, reply) => {
    const status = statusOf(error);
    const message = messageOf(error);
    const log = {
      method: request.method,
      url: request.url,
      status,
      err: status >= 500 ? error : undefined,
    };
    if (status >= 500) context.log.error(log, message);
    else context.log.info(log, message);
    void reply.code(status).send({ msg: message });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply
      .code(404)
      .send({ msg: `no route for ${request.method} ${request.url.split("?")[0]}` });
  });
  // Neon answers a timeline deletion on a tenant it does not have with 412, not 404: its
  // clients poll DELETE until 404, which means "deleted". Checked before the route's handler.
  app.addHook("onRoute", (route) => {
    if (route.method !== "DELETE" || route.url !== TIMELINE_ROUTE) return;
    const tenantMustExist = async (request: FastifyRequest) => {
      const params = request.params as { tenant_shard_id: string };
      if (!context.tenants.tryGet(tenantFromPath(params.tenant_shard_id)))
        throw new PreconditionError("Requested tenant is missing");
    };
    const existing = route.preHandler;
    route.preHandler = [
      ...(existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]),
      tenantMustExist,
    ];
  });
  if (options.authKeys) {
    const keys = options.authKeys;
    app.addHook("preHandler", async (request) => authorize(request, keys));
  }
  await app.register(statusRoutes, { context });
  await app.register(tenantRoutes, { context });
  await app.register(timelineRoutes, { context });
  await app.register(lsnRoutes, { context });
  for (const plugin of options.plugins ?? []) await plugin(app);
  return app;
}
