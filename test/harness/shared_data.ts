/**
 * The real data in `../shared/data/neon` (beside the repository, never copied into it), and the
 * one step it needs before use: the initdb tarball is zstd-compressed.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { decompress } from "fzstd";

export const SHARED_DATA = path.resolve(import.meta.dirname, "../../../shared/data/neon");
export const INITDB_TARBALL = path.join(SHARED_DATA, "pgbench-initdb.tar.zst");

/**
 * The initdb tarball as a plain tar. The zstd frame has no content size, and fzstd left to grow
 * its own output takes ~35 s for the 40 MB tar; into a preallocated buffer it takes ~1.5 s.
 */
export function readInitdbTar(capacity = 64 << 20): Buffer {
  const out = Buffer.from(
    decompress(readFileSync(INITDB_TARBALL), new Uint8Array(capacity)).buffer,
  );
  // fzstd hands back the whole buffer, scratch bytes after the real end included, so the end of
  // the archive is found by walking the headers (size: 12 octal digits at offset 124).
  let at = 0;
  while (at + 512 <= out.length && out.subarray(at, at + 512).some((b) => b !== 0)) {
    const size = Number.parseInt(
      out.toString("latin1", at + 124, at + 136).replace(/\0.*$/, ""),
      8,
    );
    at += 512 + Math.ceil(size / 512) * 512;
  }
  if (at + 1024 > capacity) throw new Error("tarball larger than the preallocated buffer");
  return out.subarray(0, at + 1024);
}
