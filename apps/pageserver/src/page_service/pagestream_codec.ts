/**
 * Neon's pagestream protocol, versions 2 and 3: the requests a compute sends inside CopyData
 * after `pagestream_v2|v3 <tenant> <timeline>`, and our responses. Byte-exact with Neon's
 * `libs/pageserver_api/src/pagestream_api.rs` and the compute's `pgxn/neon` (see
 * `reference/neon-facts.md` §10). All integers are big-endian.
 *
 * Request:  tag u8 | [v3: reqid u64] | request_lsn u64 | not_modified_since u64 | body
 *   body:   0 Exists, 1 Nblocks: rel (spc u32, db u32, rel u32, fork u8: 13 bytes)
 *           2 GetPage: rel, blkno u32       3 DbSize: dbnode u32
 *           4 GetSlruSegment: kind u8, segno u32
 *   sizes:  30/38, 30/38, 34/42, 21/29, 22/30 bytes (v2/v3).
 *
 * Response: tag u8 | [v3: reqid, request_lsn, not_modified_since, request body] | payload
 *   100 Exists: u8     101 Nblocks: u32     102 GetPage: 8192 bytes (v3: 8234 in all)
 *   104 DbSize: i64    105 GetSlruSegment: n u32, n x 8192 bytes
 *   103 Error: message, NUL; v3 echoes the three header fields only, not the request body.
 * The compute checks the v3 echo against its request, so the echo must be the exact bytes.
 *
 * Design and invariants:
 * - **reqid is a u64 and is echoed exactly.** The compute builds it as `pid << 32 | counter`, so
 *   on hosts with `pid_max` above 2^21 it exceeds 2^53. We keep its two u32 halves
 *   (`reqidHigh`, `reqidLow`) and write the echo from them; `reqid` is the number form, exact up
 *   to 2^53 and for logs only above that (`formatReqid` gives the exact decimal).
 * - **LSNs are numbers.** u64::MAX ("latest") maps to `LSN_MAX` and is written back as all-FF;
 *   any other value at or above 2^53 - 1 (which is `LSN_MAX` itself, so it could not be echoed
 *   as sent) is a decode error, never a crash.
 * - **A malformed request keeps the stream open.** Decoding fails with a
 *   `PagestreamDecodeError` carrying what could be read: the tag, the header when it decoded,
 *   and the raw v3 echo bytes, so `encodeDecodeErrorResponse` answers an Error the compute can
 *   match to its request. (Neon itself drops the connection on a parse error.) Unlike Neon, we
 *   also refuse trailing bytes: every request has one exact size.
 * - **Allocation-lean responses.** Every encoder writes into one buffer of the exact size,
 *   every byte overwritten; with `{ copyData: true }` the 5-byte CopyData header goes in front of
 *   it in the same buffer, so a response is one socket write. `encodeGetPageResponseHeader`
 *   returns only the bytes before the page, for a corked two-write send that copies no page.
 * - **Response slabs.** A framed GetPage response (8239 bytes) is too big for Node's 8 KiB
 *   buffer pool. Measured here, a fresh `allocUnsafe` per response plus the page copy costs about
 *   2 us; carving responses up to `RESPONSE_SLAB_CARVE_BYTES_MAX` out of 256 KiB slabs (never
 *   reused: the GC frees a slab once its last response is dropped, as Node's own pool works)
 *   halves that. The price: a response still queued on a slow socket keeps its whole slab alive,
 *   at most 32 times its own size. What remains is mostly the cost of touching fresh memory;
 *   `writeGetPageResponse` writes into caller-owned memory instead (about 0.15 us when that
 *   memory is reused), for a connection that recycles its buffers once a write has completed.
 */
import { assert } from "../../../../packages/engine/src/assert.ts";
import { type ErrorContext, PageserverError } from "../../../../packages/engine/src/errors.ts";
import type { RelTag, SlruKind } from "../../../../packages/engine/src/key/rel_tag.ts";
import { PAGE_SIZE_BYTES } from "../../../../packages/engine/src/limits.ts";
import { LSN_MAX, type Lsn, lsnHigh, lsnLow } from "../../../../packages/engine/src/lsn.ts";
import { COPY_DATA_HEADER_BYTES, writeCopyDataHeader } from "./pg_wire.ts";

export type PagestreamProtocolVersion = 2 | 3;

export const PagestreamRequestTag = {
  Exists: 0,
  Nblocks: 1,
  GetPage: 2,
  DbSize: 3,
  GetSlruSegment: 4,
} as const;

export const PagestreamResponseTag = {
  Exists: 100,
  Nblocks: 101,
  GetPage: 102,
  Error: 103,
  DbSize: 104,
  GetSlruSegment: 105,
} as const;

export type PagestreamRequestKind = keyof typeof PagestreamRequestTag;

/** Bytes after the tag and before the body: v2 two LSNs, v3 also the reqid. */
export function pagestreamHeaderBytes(version: PagestreamProtocolVersion): number {
  return version === 3 ? 24 : 16;
}

const WIRE_REL_TAG_BYTES = 13;
/** The body of each request kind; the v3 response echoes exactly these bytes. */
const REQUEST_BODY_BYTES: Readonly<Record<PagestreamRequestKind, number>> = {
  Exists: WIRE_REL_TAG_BYTES,
  Nblocks: WIRE_REL_TAG_BYTES,
  GetPage: WIRE_REL_TAG_BYTES + 4,
  DbSize: 4,
  GetSlruSegment: 5,
};
const REQUEST_KINDS_BY_TAG: readonly PagestreamRequestKind[] = [
  "Exists",
  "Nblocks",
  "GetPage",
  "DbSize",
  "GetSlruSegment",
];
/** A u64 whose high u32 is below this is below 2^53: exact as a JS number. */
const HIGH_HALF_SAFE_LIMIT = 0x20_0000;
const TWO_POW_32 = 0x1_0000_0000;
/** SlruKind.MultiXactOffsets, the highest kind on the wire. */
const MAX_SLRU_KIND = 2;

/** The exact size of a request of `kind`. */
export function pagestreamRequestLength(
  version: PagestreamProtocolVersion,
  kind: PagestreamRequestKind,
): number {
  return 1 + pagestreamHeaderBytes(version) + REQUEST_BODY_BYTES[kind];
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

export interface PagestreamRequestHeader {
  /** The request id as a number: exact up to 2^53, rounded above (logs only); v2: 0. */
  readonly reqid: number;
  /** The reqid's exact u64 halves, which the v3 echo is written from. */
  readonly reqidHigh: number;
  readonly reqidLow: number;
  /** `LSN_MAX` stands for u64::MAX, "latest". */
  readonly requestLsn: Lsn;
  readonly notModifiedSince: Lsn;
}

export interface PagestreamExistsRequest extends PagestreamRequestHeader {
  readonly kind: "Exists";
  readonly rel: RelTag;
}

export interface PagestreamNblocksRequest extends PagestreamRequestHeader {
  readonly kind: "Nblocks";
  readonly rel: RelTag;
}

export interface PagestreamGetPageRequest extends PagestreamRequestHeader {
  readonly kind: "GetPage";
  readonly rel: RelTag;
  readonly blkno: number;
}

export interface PagestreamDbSizeRequest extends PagestreamRequestHeader {
  readonly kind: "DbSize";
  readonly dbNode: number;
}

export interface PagestreamGetSlruSegmentRequest extends PagestreamRequestHeader {
  readonly kind: "GetSlruSegment";
  /** Checked at decode (Neon checks it in the handler): 0 clog, 1 members, 2 offsets. */
  readonly slruKind: SlruKind;
  readonly segno: number;
}

export type PagestreamRequest =
  | PagestreamExistsRequest
  | PagestreamNblocksRequest
  | PagestreamGetPageRequest
  | PagestreamDbSizeRequest
  | PagestreamGetSlruSegmentRequest;

/** Builds a header; `reqid` may be a bigint to reach all of u64. */
export function pagestreamRequestHeader(
  reqid: number | bigint,
  requestLsn: Lsn,
  notModifiedSince: Lsn,
): PagestreamRequestHeader {
  const exact = BigInt(reqid);
  assert(exact >= 0n && exact <= 0xffff_ffff_ffff_ffffn, `reqid ${exact} is not a u64`);
  const reqidHigh = Number(exact >> 32n);
  const reqidLow = Number(exact & 0xffff_ffffn);
  return {
    reqid: reqidHigh * TWO_POW_32 + reqidLow,
    reqidHigh,
    reqidLow,
    requestLsn,
    notModifiedSince,
  };
}

/** The exact decimal form of a request's reqid. */
export function formatReqid(header: PagestreamRequestHeader): string {
  if (header.reqidHigh < HIGH_HALF_SAFE_LIMIT) return String(header.reqid);
  return ((BigInt(header.reqidHigh) << 32n) | BigInt(header.reqidLow)).toString();
}

/**
 * A pagestream request does not decode. Carries what could be read, so that the stream can
 * answer an Error response (`encodeDecodeErrorResponse`) and go on.
 */
export class PagestreamDecodeError extends PageserverError {
  readonly protocolVersion: PagestreamProtocolVersion;
  /** The first byte, or null for an empty frame. */
  readonly tag: number | null;
  /** The decoded header, or null when it was truncated or held an LSN out of range. */
  readonly header: PagestreamRequestHeader | null;
  /** v3: the 24 header bytes as received (zeros where the frame ended); v2: empty. */
  readonly echo: Buffer;

  constructor(
    message: string,
    details: {
      protocolVersion: PagestreamProtocolVersion;
      tag: number | null;
      header: PagestreamRequestHeader | null;
      echo: Buffer;
    },
    context: ErrorContext = {},
  ) {
    super("PS_ERR_PAGESTREAM_DECODE", message, context);
    this.protocolVersion = details.protocolVersion;
    this.tag = details.tag;
    this.header = details.header;
    this.echo = details.echo;
  }
}

const EMPTY_ECHO = Buffer.alloc(0);

/**
 * Decodes one request (the payload of one CopyData). Throws `PagestreamDecodeError` for a wrong
 * size, an unknown tag, an unknown SLRU kind or an LSN this pageserver cannot represent.
 */
export function decodePagestreamRequest(
  frame: Buffer,
  version: PagestreamProtocolVersion,
): PagestreamRequest {
  const headerBytes = pagestreamHeaderBytes(version);
  if (frame.length < 1 + headerBytes) throw truncatedHeaderError(frame, version);
  const tag = frame[0]!;
  const at = version === 3 ? 9 : 1;
  const reqidHigh = version === 3 ? getU32(frame, 1) : 0;
  const reqidLow = version === 3 ? getU32(frame, 5) : 0;
  const reqid = reqidHigh * TWO_POW_32 + reqidLow;
  const requestLsn = getLsn(frame, at);
  const notModifiedSince = getLsn(frame, at + 8);
  if (requestLsn === null || notModifiedSince === null) {
    throw decodeError(frame, version, null, lsnRangeMessage(frame, at, requestLsn === null));
  }
  const kind = REQUEST_KINDS_BY_TAG[tag];
  const body = at + 16;
  if (kind === "GetPage" && frame.length === body + REQUEST_BODY_BYTES.GetPage) {
    // The hot path, first and with no intermediate objects.
    const rel = getRelTag(frame, body);
    const blkno = getU32(frame, body + WIRE_REL_TAG_BYTES);
    return { kind, reqid, reqidHigh, reqidLow, requestLsn, notModifiedSince, rel, blkno };
  }
  const header = { reqid, reqidHigh, reqidLow, requestLsn, notModifiedSince };
  if (kind === undefined) {
    throw decodeError(frame, version, header, `unknown pagestream request tag ${tag}`);
  }
  if (frame.length !== body + REQUEST_BODY_BYTES[kind]) {
    const expected = body + REQUEST_BODY_BYTES[kind];
    const message = `pagestream_v${version} ${kind} request is ${frame.length} bytes, expected ${expected}`;
    throw decodeError(frame, version, header, message);
  }
  return decodeRequestBody(frame, version, body, kind, header);
}

/** The body of a request whose size is right; GetPage normally takes the fast path above. */
function decodeRequestBody(
  frame: Buffer,
  version: PagestreamProtocolVersion,
  at: number,
  kind: PagestreamRequestKind,
  header: PagestreamRequestHeader,
): PagestreamRequest {
  switch (kind) {
    case "Exists":
    case "Nblocks":
      return { kind, ...header, rel: getRelTag(frame, at) };
    case "GetPage": {
      const blkno = getU32(frame, at + WIRE_REL_TAG_BYTES);
      return { kind, ...header, rel: getRelTag(frame, at), blkno };
    }
    case "DbSize":
      return { kind, ...header, dbNode: getU32(frame, at) };
    case "GetSlruSegment": {
      const slruKind = frame[at]!;
      if (slruKind > MAX_SLRU_KIND) {
        const message = `invalid SLRU kind ${slruKind} in GetSlruSegment request: expected 0..2`;
        throw decodeError(frame, version, header, message);
      }
      return { kind, ...header, slruKind: slruKind as SlruKind, segno: getU32(frame, at + 1) };
    }
  }
}

function truncatedHeaderError(
  frame: Buffer,
  version: PagestreamProtocolVersion,
): PagestreamDecodeError {
  const needed = 1 + pagestreamHeaderBytes(version);
  const message =
    frame.length === 0
      ? "empty pagestream request"
      : `truncated pagestream_v${version} request: ${frame.length} bytes, the header alone is ${needed}`;
  return decodeError(frame, version, null, message);
}

function lsnRangeMessage(frame: Buffer, at: number, requestLsnBad: boolean): string {
  const offset = requestLsnBad ? at : at + 8;
  const hex = frame.toString("hex", offset, offset + 8);
  const field = requestLsnBad ? "request_lsn" : "not_modified_since";
  return (
    `${field} ${hex.toUpperCase()} is beyond the LSNs this pageserver supports ` +
    "(below 2^53 - 1, or FFFFFFFFFFFFFFFF for latest)"
  );
}

function decodeError(
  frame: Buffer,
  version: PagestreamProtocolVersion,
  header: PagestreamRequestHeader | null,
  message: string,
): PagestreamDecodeError {
  const tag = frame.length === 0 ? null : frame[0]!;
  return new PagestreamDecodeError(message, {
    protocolVersion: version,
    tag,
    header,
    echo: version === 3 ? copyEcho(frame) : EMPTY_ECHO,
  });
}

/** The 24 v3 header bytes after the tag, zero-filled where the frame is shorter. */
function copyEcho(frame: Buffer): Buffer {
  const echo = Buffer.alloc(24);
  if (frame.length > 1) frame.copy(echo, 0, 1, Math.min(frame.length, 25));
  return echo;
}

/** Encodes a request (the compute's side; for tests and pagebench). */
export function encodePagestreamRequest(
  version: PagestreamProtocolVersion,
  request: PagestreamRequest,
): Buffer {
  const frame = Buffer.allocUnsafe(pagestreamRequestLength(version, request.kind));
  frame[0] = PagestreamRequestTag[request.kind];
  let offset = 1;
  if (version === 3) offset = putEchoHeader(frame, 1, request);
  else offset = putLsn(frame, putLsn(frame, 1, request.requestLsn), request.notModifiedSince);
  offset = putRequestBody(frame, offset, request);
  assert(offset === frame.length, "request length mismatch");
  return frame;
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

export interface PagestreamEncodeOptions {
  /** Put the CopyData header ('d', length) in front, in the same buffer. */
  readonly copyData?: boolean;
}

/** Bytes of a v3 response before its payload: tag, header echo and request body echo. */
function responseEchoBytes(
  version: PagestreamProtocolVersion,
  kind: PagestreamRequestKind,
): number {
  return version === 3 ? 1 + 24 + REQUEST_BODY_BYTES[kind] : 1;
}

/** The size of a response to `kind` whose payload is `payloadLength` bytes (no CopyData header). */
export function pagestreamResponseLength(
  version: PagestreamProtocolVersion,
  kind: PagestreamRequestKind,
  payloadLength: number,
): number {
  return responseEchoBytes(version, kind) + payloadLength;
}

/** GetPage response size: 8193 (v2), 8234 (v3). */
export function getPageResponseLength(version: PagestreamProtocolVersion): number {
  return pagestreamResponseLength(version, "GetPage", PAGE_SIZE_BYTES);
}

/** Slabs responses are carved from; see "Response slabs" in the module comment. */
const RESPONSE_SLAB_BYTES = 256 * 1024;
/** The largest response carved from a slab: a framed GetPage response fits, with room. */
export const RESPONSE_SLAB_CARVE_BYTES_MAX = 16 * 1024;
let responseSlab = Buffer.allocUnsafeSlow(RESPONSE_SLAB_BYTES);
let responseSlabOffset = 0;

/** `size` bytes for a response, uninitialized: from the current slab, or alone if large. */
function allocateResponse(size: number): Buffer {
  if (size > RESPONSE_SLAB_CARVE_BYTES_MAX) return Buffer.allocUnsafe(size);
  if (responseSlabOffset + size > RESPONSE_SLAB_BYTES) {
    responseSlab = Buffer.allocUnsafeSlow(RESPONSE_SLAB_BYTES);
    responseSlabOffset = 0;
  }
  const response = responseSlab.subarray(responseSlabOffset, responseSlabOffset + size);
  responseSlabOffset += (size + 7) & ~7; // keep carves 8-byte aligned
  return response;
}

function copyDataPrefix(options: PagestreamEncodeOptions | undefined): number {
  return options?.copyData === true ? COPY_DATA_HEADER_BYTES : 0;
}

/**
 * Writes, at `offset`, the optional CopyData header (for a response of `length` bytes), the tag
 * and, in v3, the echo of the request's header and body. Returns where the payload goes.
 */
function writeResponseStart(
  target: Buffer,
  offset: number,
  version: PagestreamProtocolVersion,
  request: PagestreamRequest,
  tag: number,
  length: number,
  options: PagestreamEncodeOptions | undefined,
): number {
  if (copyDataPrefix(options) !== 0) offset = writeCopyDataHeader(target, offset, length);
  target[offset] = tag;
  if (version === 2) return offset + 1;
  return putRequestBody(target, putEchoHeader(target, offset + 1, request), request);
}

/** Allocates a response of `length` bytes (framed if asked), its start written; see above. */
function startResponse(
  version: PagestreamProtocolVersion,
  request: PagestreamRequest,
  tag: number,
  length: number,
  options: PagestreamEncodeOptions | undefined,
): { response: Buffer; payloadAt: number } {
  const response = allocateResponse(copyDataPrefix(options) + length);
  const payloadAt = writeResponseStart(response, 0, version, request, tag, length, options);
  return { response, payloadAt };
}

export function encodeExistsResponse(
  version: PagestreamProtocolVersion,
  request: PagestreamExistsRequest,
  exists: boolean,
  options?: PagestreamEncodeOptions,
): Buffer {
  const length = pagestreamResponseLength(version, "Exists", 1);
  const tag = PagestreamResponseTag.Exists;
  const { response, payloadAt } = startResponse(version, request, tag, length, options);
  response[payloadAt] = exists ? 1 : 0;
  return response;
}

export function encodeNblocksResponse(
  version: PagestreamProtocolVersion,
  request: PagestreamNblocksRequest,
  nblocks: number,
  options?: PagestreamEncodeOptions,
): Buffer {
  assertU32(nblocks, "nblocks");
  const length = pagestreamResponseLength(version, "Nblocks", 4);
  const tag = PagestreamResponseTag.Nblocks;
  const { response, payloadAt } = startResponse(version, request, tag, length, options);
  putU32(response, payloadAt, nblocks);
  return response;
}

/** The whole GetPage response in one buffer: header written, the page copied in after it. */
export function encodeGetPageResponse(
  version: PagestreamProtocolVersion,
  request: PagestreamGetPageRequest,
  page: Uint8Array,
  options?: PagestreamEncodeOptions,
): Buffer {
  const size = copyDataPrefix(options) + getPageResponseLength(version);
  const response = allocateResponse(size);
  writeGetPageResponse(response, 0, version, request, page, options);
  return response;
}

/**
 * Writes the whole GetPage response into caller-owned memory at `offset` and returns the offset
 * after it. For a connection that reuses its own response buffers once a write has completed:
 * writing into warm memory is several times cheaper than into a fresh allocation.
 */
export function writeGetPageResponse(
  target: Buffer,
  offset: number,
  version: PagestreamProtocolVersion,
  request: PagestreamGetPageRequest,
  page: Uint8Array,
  options?: PagestreamEncodeOptions,
): number {
  assert(page.length === PAGE_SIZE_BYTES, `a page is ${PAGE_SIZE_BYTES} bytes, got ${page.length}`);
  const length = getPageResponseLength(version);
  assert(offset + copyDataPrefix(options) + length <= target.length, "target too small");
  const tag = PagestreamResponseTag.GetPage;
  const payloadAt = writeResponseStart(target, offset, version, request, tag, length, options);
  target.set(page, payloadAt);
  return payloadAt + PAGE_SIZE_BYTES;
}

/**
 * The GetPage response up to the page (1 byte in v2, 42 in v3; with `copyData`, the CopyData
 * header in front counts the page too). Send as `cork(); write(header); write(page); uncork()`.
 */
export function encodeGetPageResponseHeader(
  version: PagestreamProtocolVersion,
  request: PagestreamGetPageRequest,
  options?: PagestreamEncodeOptions,
): Buffer {
  const headerLength = responseEchoBytes(version, "GetPage");
  const header = Buffer.allocUnsafe(copyDataPrefix(options) + headerLength);
  const tag = PagestreamResponseTag.GetPage;
  const length = headerLength + PAGE_SIZE_BYTES;
  const end = writeResponseStart(header, 0, version, request, tag, length, options);
  assert(end === header.length, "GetPage header length mismatch");
  return header;
}

/** DbSize response: the database size in bytes, an i64 (never negative here). */
export function encodeDbSizeResponse(
  version: PagestreamProtocolVersion,
  request: PagestreamDbSizeRequest,
  dbSizeBytes: number,
  options?: PagestreamEncodeOptions,
): Buffer {
  assert(Number.isSafeInteger(dbSizeBytes) && dbSizeBytes >= 0, `bad db size ${dbSizeBytes}`);
  const length = pagestreamResponseLength(version, "DbSize", 8);
  const tag = PagestreamResponseTag.DbSize;
  const { response, payloadAt } = startResponse(version, request, tag, length, options);
  const high = Math.floor(dbSizeBytes / TWO_POW_32);
  putU32(response, putU32(response, payloadAt, high), dbSizeBytes >>> 0);
  return response;
}

/** GetSlruSegment response: the segment's block count, then its blocks. */
export function encodeGetSlruSegmentResponse(
  version: PagestreamProtocolVersion,
  request: PagestreamGetSlruSegmentRequest,
  segment: Uint8Array,
  options?: PagestreamEncodeOptions,
): Buffer {
  assert(segment.length % PAGE_SIZE_BYTES === 0, "an SLRU segment is whole 8 KiB blocks");
  const length = pagestreamResponseLength(version, "GetSlruSegment", 4 + segment.length);
  const tag = PagestreamResponseTag.GetSlruSegment;
  const { response, payloadAt } = startResponse(version, request, tag, length, options);
  response.set(segment, putU32(response, payloadAt, segment.length / PAGE_SIZE_BYTES));
  return response;
}

/** Error response: the message and a NUL; v3 echoes the request's three header fields only. */
export function encodeErrorResponse(
  version: PagestreamProtocolVersion,
  header: PagestreamRequestHeader,
  message: string,
  options?: PagestreamEncodeOptions,
): Buffer {
  return encodeError(version, header, message, options);
}

/** The Error response to a request that did not decode, echoing its raw v3 header bytes. */
export function encodeDecodeErrorResponse(
  error: PagestreamDecodeError,
  options?: PagestreamEncodeOptions,
): Buffer {
  return encodeError(error.protocolVersion, error.echo, error.message, options);
}

function encodeError(
  version: PagestreamProtocolVersion,
  echo: PagestreamRequestHeader | Buffer,
  message: string,
  options: PagestreamEncodeOptions | undefined,
): Buffer {
  // The compute reads the message up to the first NUL and then expects the end of the message.
  const text = message.includes("\0") ? message.replaceAll("\0", "\\0") : message;
  const textBytes = Buffer.byteLength(text, "utf8");
  const length = (version === 3 ? 25 : 1) + textBytes + 1;
  const prefix = copyDataPrefix(options);
  const response = Buffer.allocUnsafe(prefix + length);
  if (prefix !== 0) writeCopyDataHeader(response, 0, length);
  response[prefix] = PagestreamResponseTag.Error;
  let offset = prefix + 1;
  if (version === 3 && Buffer.isBuffer(echo)) {
    assert(echo.length === 24, "a v3 echo is 24 bytes");
    offset += echo.copy(response, offset);
  } else if (version === 3) {
    offset = putEchoHeader(response, offset, echo as PagestreamRequestHeader);
  }
  offset += response.write(text, offset, "utf8");
  response[offset] = 0;
  assert(offset + 1 === response.length, "Error response length mismatch");
  return response;
}

// ---------------------------------------------------------------------------------------------
// Field codecs. Lengths are checked by the callers, so these index without bounds checks.
// ---------------------------------------------------------------------------------------------

function getU32(buffer: Buffer, offset: number): number {
  return (
    buffer[offset]! * 0x100_0000 +
    ((buffer[offset + 1]! << 16) | (buffer[offset + 2]! << 8) | buffer[offset + 3]!)
  );
}

/**
 * An LSN, or null when we cannot echo it exactly: at or above 2^53 (u64::MAX excepted), and also
 * 2^53 - 1 itself, because that number is `LSN_MAX`, which is written back as u64::MAX.
 */
function getLsn(buffer: Buffer, offset: number): Lsn | null {
  const high = getU32(buffer, offset);
  const low = getU32(buffer, offset + 4);
  if (high < HIGH_HALF_SAFE_LIMIT) {
    const lsn = high * TWO_POW_32 + low;
    return lsn === LSN_MAX ? null : (lsn as Lsn);
  }
  if (high === 0xffff_ffff && low === 0xffff_ffff) return LSN_MAX;
  return null;
}

function getRelTag(buffer: Buffer, offset: number): RelTag {
  return {
    spcNode: getU32(buffer, offset),
    dbNode: getU32(buffer, offset + 4),
    relNode: getU32(buffer, offset + 8),
    forkNum: buffer[offset + 12]!,
  };
}

function putU32(buffer: Buffer, offset: number, value: number): number {
  buffer[offset] = value >>> 24;
  buffer[offset + 1] = value >>> 16;
  buffer[offset + 2] = value >>> 8;
  buffer[offset + 3] = value;
  return offset + 4;
}

function putLsn(buffer: Buffer, offset: number, lsn: Lsn): number {
  return putU32(buffer, putU32(buffer, offset, lsnHigh(lsn)), lsnLow(lsn));
}

/** reqid, request_lsn, not_modified_since: the v3 header, as requests carry it and responses echo it. */
function putEchoHeader(buffer: Buffer, offset: number, header: PagestreamRequestHeader): number {
  offset = putU32(buffer, putU32(buffer, offset, header.reqidHigh), header.reqidLow);
  return putLsn(buffer, putLsn(buffer, offset, header.requestLsn), header.notModifiedSince);
}

function putRelTag(buffer: Buffer, offset: number, rel: RelTag): number {
  offset = putU32(buffer, putU32(buffer, offset, rel.spcNode), rel.dbNode);
  offset = putU32(buffer, offset, rel.relNode);
  buffer[offset] = rel.forkNum;
  return offset + 1;
}

function putRequestBody(buffer: Buffer, offset: number, request: PagestreamRequest): number {
  switch (request.kind) {
    case "Exists":
    case "Nblocks":
      return putRelTag(buffer, offset, request.rel);
    case "GetPage":
      return putU32(buffer, putRelTag(buffer, offset, request.rel), request.blkno);
    case "DbSize":
      return putU32(buffer, offset, request.dbNode);
    case "GetSlruSegment":
      buffer[offset] = request.slruKind;
      return putU32(buffer, offset + 1, request.segno);
  }
}

function assertU32(value: number, what: string): void {
  assert(
    Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff,
    `${what} ${value} is not a u32`,
  );
}
