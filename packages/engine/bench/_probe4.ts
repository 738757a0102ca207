import { readFileSync } from "node:fs";
import { LayerMap, type HistoricLayerRef } from "../src/layer_map/layer_map.ts";
import { parseLayerName } from "../src/storage_layer/layer_name.ts";
import { keyNext, type Key } from "../src/key/key.ts";
import type { Lsn } from "../src/lsn.ts";
const names = readFileSync("/work/shared/data/neon/odd-brook-layernames.txt", "utf8").split("\n").filter(Boolean).map(parseLayerName);
const map = new LayerMap<HistoricLayerRef>(); const b = map.batchUpdate(); for (const name of names) b.insert({ name }); b.flush();
const imgs = [...map.historicLayers()].filter(l => l.name.kind === "image").map(l => l.name);
const N = imgs.length;
function time(label: string, keys: Key[], lsns: Float64Array) { let sink = 0; const out: number[] = []; for (let r = 0; r < 9; r++) { const t = process.hrtime.bigint(); for (let i = 0; i < N; i++) { const f = map.search(keys[i]!, lsns[i]! as Lsn); if (f) sink += f.lsnFloor; } out.push(Number(process.hrtime.bigint() - t) / N); } out.sort((a,b)=>a-b); console.log(label, out[4]!.toFixed(1), sink % 7); }
const scattered = imgs.map(n => n.keyRange.start);
const fresh = imgs.map(n => Buffer.from(n.keyRange.start, "hex").toString("hex") as Key);
const inside = imgs.map(n => keyNext(n.keyRange.start));
const atLsn = new Float64Array(imgs.map(n => n.lsnRange.start));
const belowLsn = new Float64Array(imgs.map(n => n.lsnRange.start - 1));
for (let k = 0; k < 2; k++) {
time("scattered keys, lsn", scattered, atLsn);
time("fresh keys, lsn", fresh, atLsn);
time("fresh keys, lsn-1", fresh, belowLsn);
time("inside keys, lsn-1", inside, belowLsn);
time("inside keys, lsn", inside, atLsn);
}
const cov: any = (map as any).coverage;
const hit = { delta: -1, image: -1 };
function timeCov(label: string, keys: Key[], lsns: Float64Array) { const out: number[] = []; for (let r = 0; r < 9; r++) { const t = process.hrtime.bigint(); for (let i = 0; i < N; i++) { cov.query(keys[i]!, lsns[i]! - 1, hit); } out.push(Number(process.hrtime.bigint() - t) / N); } out.sort((a,b)=>a-b); console.log(label, out[4]!.toFixed(1)); }
for (let k = 0; k < 3; k++) { timeCov("coverage fresh", fresh, atLsn); time("map fresh", fresh, atLsn); }
