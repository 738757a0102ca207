/**
 * The console's environment, validated once with zod (server side only):
 *
 * - `CONSOLE_PAGESERVERS`: the fleet, `name=url,name=url` (e.g. `ps1=http://127.0.0.1:9898`).
 * - `CONSOLE_CONFIG`: a JSON file `{"pageservers": [{"name": …, "url": …}]}`, merged after the
 *   variable (a name given twice keeps the variable's URL).
 * - `CONSOLE_DATA_DIR`: where pageservers added from the UI are kept (`fleet.json`); default
 *   `.data` under the directory `next start` runs in (apps/web).
 */
import "server-only";
import path from "node:path";
import { z } from "zod";

const schema = z.object({
  CONSOLE_PAGESERVERS: z.string().default(""),
  CONSOLE_CONFIG: z.string().optional(),
  CONSOLE_DATA_DIR: z.string().default(".data"),
});

export interface ConsoleEnv {
  readonly pageservers: string;
  readonly configFile: string | null;
  readonly dataDirectory: string;
}

export function consoleEnv(): ConsoleEnv {
  const parsed = schema.parse(process.env);
  return {
    pageservers: parsed.CONSOLE_PAGESERVERS,
    configFile: parsed.CONSOLE_CONFIG ? path.resolve(parsed.CONSOLE_CONFIG) : null,
    dataDirectory: path.resolve(parsed.CONSOLE_DATA_DIR),
  };
}
