/**
 * `pagectl key <hex>`: decodes Neon's 36-hex-digit key into its six fields and says what it
 * stores in PostgreSQL's terms (relation block, relation size, SLRU block, directory, …), and
 * which key-space rules apply to it (compact form, sparse, inherited by branches).
 * `pagectl key --rel spc/db/rel[_fork] --blk N` goes the other way: the key of a relation block.
 */
import {
  describeKey,
  formatKey,
  isCompactKey,
  isInherited,
  isMetadataKey,
  type Key,
  keyField1,
  keyField2,
  keyField3,
  keyField4,
  keyField5,
  keyField6,
  parseKey,
  parseRelTag,
  relBlockKey,
} from "@pageserver/engine";
import { parseCliArgs, parseCount, UsageError } from "../cli_support.ts";

export function explainKey(key: Key) {
  const fields = [keyField1, keyField2, keyField3, keyField4, keyField5, keyField6].map((field) =>
    field(key),
  );
  const description = describeKey(key);
  return {
    key: formatKey(key),
    fields,
    description: description.text,
    kind: description.kind,
    compact: isCompactKey(key),
    sparse: isMetadataKey(key),
    inherited: isInherited(key),
  };
}

function formatExplanation(explained: ReturnType<typeof explainKey>): string {
  const widths = [2, 8, 8, 8, 2, 8];
  const lines = [`key ${explained.key}`];
  explained.fields.forEach((value, index) => {
    const hex = value.toString(16).toUpperCase().padStart(widths[index]!, "0");
    lines.push(`  field${index + 1}: 0x${hex} (${value})`);
  });
  lines.push(
    `  describes: ${explained.description}`,
    `  kind: ${explained.kind}`,
    `  compact i128 form: ${explained.compact ? "valid" : "invalid (field2 > 0xFFFF)"}`,
    `  sparse (metadata) key: ${explained.sparse ? "yes" : "no"}`,
    `  inherited by branches: ${explained.inherited ? "yes" : "no"}`,
  );
  return lines.join("\n");
}

export async function keyCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCliArgs(
    args,
    { rel: { type: "string" }, blk: { type: "string" }, json: { type: "boolean", default: false } },
    { min: 0, max: 1 },
  );
  let key: Key;
  try {
    if (positionals[0] !== undefined) {
      if (values.rel !== undefined || values.blk !== undefined) {
        throw new UsageError("give either a key or --rel and --blk, not both");
      }
      key = parseKey(positionals[0]);
    } else if (typeof values.rel === "string" && typeof values.blk === "string") {
      key = relBlockKey(parseRelTag(values.rel), parseCount(values.blk, "--blk"));
    } else {
      throw new UsageError("missing key (36 hex digits), or --rel and --blk");
    }
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError((error as Error).message);
  }
  const explained = explainKey(key);
  process.stdout.write(
    values.json ? `${JSON.stringify(explained)}\n` : `${formatExplanation(explained)}\n`,
  );
}
