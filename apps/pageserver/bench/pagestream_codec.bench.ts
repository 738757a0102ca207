/**
 * Page service wire benchmarks: the per-request CPU cost of the GetPage path outside the engine.
 *
 *   - `pagestream/decode_getpage_v3`: decode one 42-byte v3 GetPage request (ns per request).
 *   - `pagestream/encode_getpage_v3`: encode its 8234-byte response framed in CopyData, one
 *     buffer with the page copied in, as the server sends it (ns per response).
 *   - `pagestream/encode_getpage_v3_into`: the same written into a reused buffer (32 responses,
 *     as a connection reusing its batch buffer would), i.e. without the cost of fresh memory.
 *   - `pagestream/encode_getpage_v3_header`: the header-only form for a corked two-write send.
 *   - `pg_wire/frame_reader`: 32 pipelined GetPage CopyData frames arrive in one socket chunk;
 *     push it and take the 32 messages out (ns per message).
 *
 * Each op runs in batches; a batch is timed with `process.hrtime.bigint()` and the median per-op
 * time over the rounds is reported, the best one too (the first rounds warm the JIT up and are
 * dropped). Every result is one JSON line on stdout. `--quick` (or BENCH_QUICK=1) runs fewer.
 */
import { LSN_MAX, type Lsn } from "../../../packages/engine/src/lsn.ts";
import {
  decodePagestreamRequest,
  encodeGetPageResponse,
  encodeGetPageResponseHeader,
  encodePagestreamRequest,
  type PagestreamGetPageRequest,
  pagestreamRequestHeader,
  writeGetPageResponse,
} from "../src/page_service/pagestream_codec.ts";
import { encodeCopyData, PgFrameReader } from "../src/page_service/pg_wire.ts";

const quick = process.argv.includes("--quick") || process.env.BENCH_QUICK === "1";
const rounds = quick ? 5 : 25;
const warmupRounds = 3;
const PIPELINE_DEPTH = 32;

function report(bench: string, fields: Record<string, number | string>): void {
  process.stdout.write(`${JSON.stringify({ bench, ...fields })}\n`);
}

/** Runs `batch` (which does `opsPerBatch` ops and returns a checksum) and reports ns per op. */
function measure(bench: string, opsPerBatch: number, batch: () => number): void {
  let sink = 0;
  const perOp: number[] = [];
  for (let round = 0; round < warmupRounds + rounds; round++) {
    const started = process.hrtime.bigint();
    sink += batch();
    const elapsed = Number(process.hrtime.bigint() - started);
    if (round >= warmupRounds) perOp.push(elapsed / opsPerBatch);
  }
  perOp.sort((a, b) => a - b);
  report(bench, {
    value: Math.round(perOp[perOp.length >> 1]! * 10) / 10,
    unit: "ns/op",
    best_ns: Math.round(perOp[0]! * 10) / 10,
    ops: opsPerBatch * rounds,
    sink: sink % 1000,
  });
}

const request: PagestreamGetPageRequest = {
  kind: "GetPage",
  ...pagestreamRequestHeader((1234n << 32n) | 5n, LSN_MAX, 0x1690000 as Lsn),
  rel: { spcNode: 1663, dbNode: 13008, relNode: 16384, forkNum: 0 },
  blkno: 7,
};
const requestFrame = encodePagestreamRequest(3, request);
const page = Buffer.alloc(8192, 0x5a);

function benchDecode(): void {
  const ops = quick ? 100_000 : 1_000_000;
  measure("pagestream/decode_getpage_v3", ops, () => {
    let sum = 0;
    for (let i = 0; i < ops; i++) {
      const decoded = decodePagestreamRequest(requestFrame, 3) as PagestreamGetPageRequest;
      sum += decoded.blkno;
    }
    return sum;
  });
}

function benchEncode(): void {
  const ops = quick ? 20_000 : 200_000;
  measure("pagestream/encode_getpage_v3", ops, () => {
    let sum = 0;
    for (let i = 0; i < ops; i++) {
      sum += encodeGetPageResponse(3, request, page, { copyData: true }).length;
    }
    return sum;
  });
  const target = Buffer.allocUnsafeSlow(PIPELINE_DEPTH * 8239);
  measure("pagestream/encode_getpage_v3_into", ops, () => {
    let sum = 0;
    for (let i = 0; i < ops; i++) {
      const offset = (i % PIPELINE_DEPTH) * 8239;
      sum += writeGetPageResponse(target, offset, 3, request, page, { copyData: true });
    }
    return sum;
  });
  measure("pagestream/encode_getpage_v3_header", ops, () => {
    let sum = 0;
    for (let i = 0; i < ops; i++) {
      sum += encodeGetPageResponseHeader(3, request, { copyData: true }).length;
    }
    return sum;
  });
}

function benchFrameReader(): void {
  const frame = encodeCopyData(requestFrame);
  const chunk = Buffer.concat(Array.from({ length: PIPELINE_DEPTH }, () => frame));
  const reader = new PgFrameReader({ phase: "typed" });
  const chunksPerBatch = quick ? 5_000 : 50_000;
  measure("pg_wire/frame_reader", chunksPerBatch * PIPELINE_DEPTH, () => {
    let sum = 0;
    for (let i = 0; i < chunksPerBatch; i++) {
      reader.push(chunk);
      for (let message = reader.next(); message !== null; message = reader.next()) {
        if (message.type === "CopyData") sum += message.data.length;
      }
    }
    return sum;
  });
}

benchDecode();
benchEncode();
benchFrameReader();
