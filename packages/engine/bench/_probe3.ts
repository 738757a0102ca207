import { readFileSync } from "node:fs";
import { HistoricCoverage } from "../src/layer_map/historic_coverage.ts";
import { parseLayerName } from "../src/storage_layer/layer_name.ts";
import type { Key } from "../src/key/key.ts";
import type { Lsn } from "../src/lsn.ts";
const names = readFileSync("/work/shared/data/neon/odd-brook-layernames.txt", "utf8").split("\n").filter(Boolean).map(parseLayerName);
const cov = HistoricCoverage.build(names);
const c: any = cov;
const imgs = names.filter(n => n.kind === "image").sort((a,b)=>a.lsnRange.start-b.lsnRange.start);
const N = imgs.length;
const keys: Key[] = imgs.map(n => Buffer.from(n.keyRange.start, "hex").toString("hex") as Key);
const lsns = new Float64Array(imgs.map(n => n.lsnRange.start - 1));
const hit = { delta: -1, image: -1 };
const segs = new Int32Array(N); const roots = new Int32Array(N);
for (let i = 0; i < N; i++) { c.cachedKey = ""; segs[i] = c.segmentOfKey(keys[i]); roots[i] = c.rootAt(lsns[i]); }
function time(label: string, f: () => void) { for (let r = 0; r < 5; r++) { const t = process.hrtime.bigint(); f(); if (r === 4) console.log(label, (Number(process.hrtime.bigint() - t) / N).toFixed(1)); } }
time("query", () => { for (let i = 0; i < N; i++) cov.query(keys[i]!, lsns[i]! as Lsn, hit); });
time("segmentOfKey", () => { for (let i = 0; i < N; i++) { c.segmentOfKey(keys[i]); } });
time("rootAt", () => { for (let i = 0; i < N; i++) { c.rootAt(lsns[i]); } });
time("walk", () => { for (let i = 0; i < N; i++) { c.walk(roots[i], segs[i], hit); } });
time("empty", () => { for (let i = 0; i < N; i++) { hit.delta = keys[i]!.length; } });
const numbers: Float64Array = c.boundaryNumbers; const K = c.boundaryKeys.length;
function hexChunk(text: string, offset: number): number { let value = 0; for (let i = offset; i < offset + 6; i++) { const code = text.charCodeAt(i); value = (value << 4) | ((code & 15) + 9 * (code >> 6)); } return value; }
function keyPart(key: string, offset: number): number { return hexChunk(key, offset) * 0x100_0000 + hexChunk(key, offset + 6); }
const H = new Float64Array(N), M = new Float64Array(N), L = new Float64Array(N);
for (let i = 0; i < N; i++) { H[i] = keyPart(keys[i]!, 0); M[i] = keyPart(keys[i]!, 12); L[i] = keyPart(keys[i]!, 24); }
let sink = 0;
time("decode only", () => { for (let i = 0; i < N; i++) sink += keyPart(keys[i]!, 0) + keyPart(keys[i]!, 12) + keyPart(keys[i]!, 24); });
function searchBranchy(h: number, m: number, l: number): number {
  let first = 0, count = K;
  while (count > 0) { const half = count >>> 1; const at = (first + half) * 3; const bh = numbers[at]!, bm = numbers[at + 1]!;
    const le = bh !== h ? bh < h : bm !== m ? bm < m : numbers[at + 2]! <= l;
    if (le) { first += half + 1; count -= half + 1; } else count = half; }
  return first - 1;
}
function searchBranchless(h: number, m: number, l: number): number {
  let base = 0, n = K;
  while (n > 1) { const half = n >>> 1; const at = (base + half) * 3; const bh = numbers[at]!, bm = numbers[at + 1]!, bl = numbers[at + 2]!;
    const le = ((bh < h) as any) | (((bh === h) as any) & (((bm < m) as any) | (((bm === m) as any) & ((bl <= l) as any))));
    base += le * half; n -= half; }
  // base: last index with B <= key if B[0] <= key
  const at = base * 3; const bh = numbers[at]!, bm = numbers[at + 1]!, bl = numbers[at + 2]!;
  const le = ((bh < h) as any) | (((bh === h) as any) & (((bm < m) as any) | (((bm === m) as any) & ((bl <= l) as any))));
  return le ? base : base - 1;
}
time("search branchy", () => { for (let i = 0; i < N; i++) sink += searchBranchy(H[i]!, M[i]!, L[i]!); });
time("search branchless", () => { for (let i = 0; i < N; i++) sink += searchBranchless(H[i]!, M[i]!, L[i]!); });
for (let i = 0; i < N; i++) if (searchBranchy(H[i]!, M[i]!, L[i]!) !== searchBranchless(H[i]!, M[i]!, L[i]!)) { console.log("mismatch", i); break; }
console.log(sink % 7);
