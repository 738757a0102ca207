/**
 * NeonJWT on the management API: no token 401, a bad signature 401, a tenant token for another
 * tenant 403, a tenant token on a node-wide route 403, pageserverapi anywhere, /v1/status and
 * /metrics open.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { jwtKeys, randomId, signToken, type TestNode, testNode } from "./helpers.ts";

describe("management API with NeonJWT", () => {
  let node: TestNode;
  const keys = jwtKeys(mkdtempSync(path.join(tmpdir(), "jwt-")));
  const otherKeys = jwtKeys(mkdtempSync(path.join(tmpdir(), "jwt-")));
  const tenant = randomId();
  const bearer = (claims: Record<string, unknown>, key = keys.privateKey) => ({
    authorization: `Bearer ${signToken(key, claims)}`,
  });

  before(async () => {
    node = await testNode({ authKeys: [keys.publicKey] });
  });
  after(async () => {
    await node.close();
  });

  test("tokens and scopes", async () => {
    assert.equal((await node.request("GET", "/v1/status")).status, 200, "status is open");
    assert.equal((await node.request("GET", "/metrics")).status, 200, "metrics are open");
    const missing = await node.request<{ msg: string }>("GET", "/v1/tenant");
    assert.equal(missing.status, 401);
    assert.match(missing.body.msg, /Bearer/);
    const forged = await node.request<{ msg: string }>(
      "GET",
      "/v1/tenant",
      undefined,
      bearer({ scope: "pageserverapi" }, otherKeys.privateKey),
    );
    assert.equal(forged.status, 401);
    assert.match(forged.body.msg, /signature/);
    const admin = bearer({ scope: "pageserverapi" });
    assert.equal(
      (
        await node.request(
          "PUT",
          `/v1/tenant/${tenant}/location_config`,
          { mode: "AttachedSingle" },
          admin,
        )
      ).status,
      200,
    );
    const own = bearer({ scope: "tenant", tenant_id: tenant });
    assert.equal((await node.request("GET", `/v1/tenant/${tenant}`, undefined, own)).status, 200);
    const foreign = await node.request<{ msg: string }>(
      "GET",
      `/v1/tenant/${tenant}`,
      undefined,
      bearer({ scope: "tenant", tenant_id: randomId() }),
    );
    assert.equal(foreign.status, 403);
    assert.match(foreign.body.msg, /token is for tenant/);
    assert.equal(
      (await node.request("GET", "/v1/tenant", undefined, own)).status,
      403,
      "tenant token on a node-wide route",
    );
    assert.equal(
      (
        await node.request(
          "PATCH",
          "/v1/tenant/config",
          { tenant_id: tenant, gc_period: "1h" },
          own,
        )
      ).status,
      200,
    );
    assert.equal(
      (await node.request("GET", "/v1/tenant", undefined, bearer({ scope: "safekeeperdata" })))
        .status,
      403,
    );
    const expired = await node.request(
      "GET",
      "/v1/tenant",
      undefined,
      bearer({ scope: "pageserverapi", exp: 1 }),
    );
    assert.equal(expired.status, 401);
  });
});
