/**
 * Next.js config of the console. The console imports only `type AppRouter` from @pageserver/api
 * (erased at compile time), so neither the API package nor the engine is bundled for the browser
 * or the server; `test/console/console_build.test.ts` checks the built client chunks for that.
 *
 * `turbopack.root` / `outputFileTracingRoot`: the workspace root, where node_modules lives.
 *
 * `typescript.ignoreBuildErrors`: the root `npm run typecheck` checks the console (and CI runs it
 * before the tests). Checking again in `next build` would follow AppRouter's types into the
 * engine's sources, so one engineer's unfinished engine change would stop everyone's console
 * build; and it doubles the build time on a 2-core machine.
 */
import path from "node:path";
import type { NextConfig } from "next";

const workspaceRoot = path.resolve(import.meta.dirname, "../..");

const config: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  turbopack: { root: workspaceRoot },
  outputFileTracingRoot: workspaceRoot,
  typescript: { ignoreBuildErrors: true },
};

export default config;
