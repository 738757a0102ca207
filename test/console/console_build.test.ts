/**
 * The console imports only `type AppRouter` from @pageserver/api, so neither the router nor the
 * engine may end up in its build (browser chunks or server bundles): the engine is Node-only,
 * and a bundled router would be a second, unconfigured copy of the pageserver's API. String
 * literals survive minification, so the built files are searched for a few that only the
 * engine and the router contain.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { ensureConsoleBuilt, WEB_DIR } from "../harness/console_process.ts";

/** Literals from packages/engine/src/errors.ts and packages/api/src/routers/timeline.ts. */
const FOREIGN = ["PS_ERR_INVALID_ARGUMENT", "ancestorStartLsn needs an ancestorTimelineId"];
/** A literal the console itself has (open_file_view.tsx): proof the search reads the build. */
const OWN = "nothing is uploaded";

function builtFiles(directory: string, found: string[] = []): string[] {
  for (const entry of readdirSync(directory)) {
    const full = path.join(directory, entry);
    if (statSync(full).isDirectory()) builtFiles(full, found);
    else if (/\.(js|mjs|cjs|html|rsc)$/.test(entry)) found.push(full);
  }
  return found;
}

test("the console's build holds no engine or router code", async () => {
  await ensureConsoleBuilt();
  const files = [
    ...builtFiles(path.join(WEB_DIR, ".next/static")),
    ...builtFiles(path.join(WEB_DIR, ".next/server")),
  ];
  let ownSeen = false;
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    if (text.includes(OWN)) ownSeen = true;
    for (const literal of FOREIGN)
      assert.ok(!text.includes(literal), `${path.relative(WEB_DIR, file)} contains '${literal}'`);
  }
  assert.ok(ownSeen, `no built file contains '${OWN}': the search missed the build`);
});
