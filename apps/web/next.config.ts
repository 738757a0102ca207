/**
 * Next.js config of the console. The console imports only `type AppRouter` from @pageserver/api
 * (erased at compile time), so neither the API package nor the engine is bundled for the browser
 * or the server; `test/console/console_build.test.ts` checks the built client chunks for that.
 *
 * `turbopack.root` / `outputFileTracingRoot`: the workspace root, where node_modules lives.
 */
import path from "node:path";
import type { NextConfig } from "next";

const workspaceRoot = path.resolve(import.meta.dirname, "../..");

const config: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  turbopack: { root: workspaceRoot },
  outputFileTracingRoot: workspaceRoot,
};

export default config;
