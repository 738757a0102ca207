import { readFileSync } from "node:fs";
import { HistoricCoverage } from "../src/layer_map/historic_coverage.ts";
import { parseLayerName } from "../src/storage_layer/layer_name.ts";
import type { Lsn } from "../src/lsn.ts";
const names = readFileSync("/work/shared/data/neon/odd-brook-layernames.txt", "utf8").split("\n").filter(Boolean).map(parseLayerName);
const cov = HistoricCoverage.build(names);
console.log("memory MB", (cov.memoryBytes / 1e6).toFixed(1), "nodes", (cov as any).nodeCount, "versions", (cov as any).versionCount, "segments", (cov as any).segmentCount);
const imgs = names.filter(n => n.kind === "image").sort((a,b)=>a.lsnRange.start-b.lsnRange.start);
const hit = { delta: -1, image: -1 };
function run(label: string, fn: (i: number) => void) {
  for (let r = 0; r < 3; r++) { const t = process.hrtime.bigint(); for (let i = 0; i < imgs.length; i++) fn(i); if (r === 2) console.log(label, (Number(process.hrtime.bigint() - t) / imgs.length).toFixed(1)); }
}
const c: any = cov;
run("full query", (i) => cov.query(imgs[i]!.keyRange.start, (imgs[i]!.lsnRange.start - 1) as Lsn, hit));
run("rootAt", (i) => c.rootAt(imgs[i]!.lsnRange.start - 1));
run("rootAt nocache", (i) => { c.cachedLsn = NaN; c.rootAt(imgs[i]!.lsnRange.start - 1); });
run("decode", (i) => c.decodeKey(imgs[i]!.keyRange.start));
let distinct = new Set(imgs.map(n => n.lsnRange.start)).size; console.log("distinct image lsns", distinct);
const keys = imgs.map(n => n.keyRange.start);
function hexChunk(text: string, offset: number): number {
  let value = 0;
  for (let i = offset; i < offset + 6; i++) { const code = text.charCodeAt(i); value = (value << 4) | ((code & 15) + 9 * (code >> 6)); }
  return value;
}
function keyPart(key: string, offset: number): number { return hexChunk(key, offset) * 0x100_0000 + hexChunk(key, offset + 6); }
let s = 0;
for (let r = 0; r < 3; r++) { const t = process.hrtime.bigint(); for (let i = 0; i < keys.length; i++) s += keyPart(keys[i]!, 0) + keyPart(keys[i]!, 12) + keyPart(keys[i]!, 24); console.log("plain decode", (Number(process.hrtime.bigint() - t) / keys.length).toFixed(1)); }
const flat = keys.map(k => Buffer.from(k, "hex").toString("hex"));
for (let r = 0; r < 3; r++) { const t = process.hrtime.bigint(); for (let i = 0; i < flat.length; i++) s += keyPart(flat[i]!, 0) + keyPart(flat[i]!, 12) + keyPart(flat[i]!, 24); console.log("flat decode", (Number(process.hrtime.bigint() - t) / keys.length).toFixed(1)); }
