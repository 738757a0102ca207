/**
 * A tenant's `config-v1` file: Neon's LocationConf in TOML — the attachment mode, the generation
 * it was attached with, and the tenant config overrides.
 *
 *     mode = "AttachedSingle"
 *     generation = 3
 *     [tenant_conf]
 *     checkpoint_distance = 268435456
 */
import { readFileSync } from "node:fs";
import { parse, stringify } from "smol-toml";
import { CorruptionError, InvalidArgumentError } from "../errors.ts";
import { asGeneration, type Generation } from "../ids.ts";
import { writeFileDurably } from "../io/durable_fs.ts";
import { parseTenantConfig, type TenantConfigKnobs } from "./tenant_config.ts";

export const LOCATION_CONF_FILE_NAME = "config-v1";

export type LocationMode =
  | "AttachedSingle"
  | "AttachedMulti"
  | "AttachedStale"
  | "Secondary"
  | "Detached";

export interface LocationConf {
  readonly mode: LocationMode;
  readonly generation: Generation;
  readonly tenantConf: TenantConfigKnobs;
}

export function encodeLocationConf(conf: LocationConf): string {
  const document: Record<string, unknown> = { mode: conf.mode };
  if (conf.generation !== null) document.generation = conf.generation;
  document.tenant_conf = conf.tenantConf;
  return `# Written by the pageserver: the tenant's attachment and config overrides.\n${stringify(document)}\n`;
}

export function decodeLocationConf(text: string, file: string): LocationConf {
  let document: Record<string, unknown>;
  try {
    document = parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new CorruptionError(
      `tenant config ${file} is not valid TOML: ${(error as Error).message}`,
      { file },
      error,
    );
  }
  const mode = document.mode;
  if (
    typeof mode !== "string" ||
    !["AttachedSingle", "AttachedMulti", "AttachedStale", "Secondary", "Detached"].includes(mode)
  ) {
    throw new CorruptionError(`tenant config ${file}: invalid mode ${JSON.stringify(mode)}`, {
      file,
    });
  }
  let tenantConf: TenantConfigKnobs;
  try {
    tenantConf = parseTenantConfig(document.tenant_conf ?? {});
  } catch (error) {
    if (error instanceof InvalidArgumentError)
      throw new CorruptionError(`tenant config ${file}: ${error.message}`, { file });
    throw error;
  }
  const generation =
    typeof document.generation === "number" ? asGeneration(document.generation) : null;
  return { mode: mode as LocationMode, generation, tenantConf };
}

export async function saveLocationConf(file: string, conf: LocationConf): Promise<void> {
  await writeFileDurably(file, encodeLocationConf(conf));
}

export function loadLocationConf(file: string): LocationConf {
  return decodeLocationConf(readFileSync(file, "utf8"), file);
}
