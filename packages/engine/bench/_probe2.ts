import { HistoricCoverage } from "../src/layer_map/historic_coverage.ts";
import { KEY_MAX, KEY_MIN, keyFromFields, type Key } from "../src/key/key.ts";
import type { Lsn } from "../src/lsn.ts";
import type { LayerName } from "../src/storage_layer/layer_name.ts";
const STRIPES = 2000, BLOCKS = 1024;
const sk = (s: number) => keyFromFields(0, 1663, 5, 16384 + (s >> 8), 0, (s & 255) * BLOCKS);
const names: LayerName[] = [];
for (let epoch = 0; names.length < 100000; epoch++) {
  const base = epoch * 1000 + 1;
  for (let f = 0; f < 10; f++) names.push({ kind: "delta", keyRange: { start: KEY_MIN, end: KEY_MAX }, lsnRange: { start: (base + f * 100) as Lsn, end: (base + f * 100 + 100) as Lsn } });
  for (let g = 0; g < STRIPES / 20; g++) names.push({ kind: "delta", keyRange: { start: sk(g * 20), end: sk(g * 20 + 20) }, lsnRange: { start: base as Lsn, end: (base + 1000) as Lsn } });
  if (epoch % 3 === 2) for (let s = 0; s < STRIPES; s++) names.push({ kind: "image", keyRange: { start: sk(s), end: sk(s + 1) }, lsnRange: { start: (base + 999) as Lsn, end: (base + 1000) as Lsn } });
}
let t0 = performance.now();
const cov = HistoricCoverage.build(names.slice(0, 100000));
console.log("build ms", performance.now() - t0);
const c: any = cov;
console.log("memory MB", (cov.memoryBytes / 1e6).toFixed(1), "nodes", c.nodeCount, "versions", c.versionCount, "segments", c.segmentCount);
let seed = 1; const rnd = () => { seed = (seed * 16807) % 2147483647; return seed / 2147483647; };
const N = 100000; const keys: Key[] = []; const lsns = new Float64Array(N);
const lsnMax = 250000;
for (let i = 0; i < N; i++) { const s = Math.floor(rnd() * STRIPES); keys.push(keyFromFields(0, 1663, 5, 16384 + (s >> 8), 0, (s & 255) * 1024 + Math.floor(rnd() * 1024))); lsns[i] = 1 + Math.floor(rnd() * lsnMax); }
const hit = { delta: -1, image: -1 };
for (let r = 0; r < 4; r++) { let t = process.hrtime.bigint(); for (let i = 0; i < N; i++) cov.query(keys[i]!, lsns[i]! as Lsn, hit); console.log("query", (Number(process.hrtime.bigint() - t) / N).toFixed(1)); }
for (let r = 0; r < 3; r++) { let t = process.hrtime.bigint(); for (let i = 0; i < N; i++) { c.cachedLsn = NaN; c.rootAt(lsns[i]); } console.log("rootAt", (Number(process.hrtime.bigint() - t) / N).toFixed(1)); }
for (let r = 0; r < 3; r++) { let t = process.hrtime.bigint(); for (let i = 0; i < N; i++) { c.decodeKey(keys[i]); } console.log("decode", (Number(process.hrtime.bigint() - t) / N).toFixed(1)); }
