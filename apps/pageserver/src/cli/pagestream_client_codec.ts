/**
 * The compute's side of Neon's pagestream protocol (reference §10): decoding the pageserver's
 * responses and checking them against the request they answer. The request side is the server
 * codec's `encodePagestreamRequest` (one encoder, so the two sides cannot drift apart).
 *
 * A v3 response starts with `tag | reqid | request_lsn | not_modified_since` and, except for
 * Error, the request body again; the compute refuses a response whose echo differs from what it
 * sent, and so do we: a mismatch means the stream is out of step (a lost or reordered response)
 * and nothing after it can be trusted. v2 responses carry only the tag, so only the tag is checked.
 *
 * Payloads are views into the frame (no copy); callers copy what they keep past the frame's life.
 */
import { PageserverError } from "@pageserver/engine";
import {
  type PagestreamProtocolVersion,
  type PagestreamRequestKind,
  PagestreamRequestTag,
  PagestreamResponseTag,
} from "../page_service/pagestream_codec.ts";

const PAGE_BYTES = 8192;
/** tag + reqid + request_lsn + not_modified_since. */
const V3_HEADER_BYTES = 25;
const TWO_POW_32 = 0x1_0000_0000;

export type PagestreamResponse =
  | { readonly kind: "Exists"; readonly exists: boolean }
  | { readonly kind: "Nblocks"; readonly nblocks: number }
  | { readonly kind: "GetPage"; readonly page: Buffer }
  | { readonly kind: "DbSize"; readonly dbSizeBytes: number }
  | { readonly kind: "GetSlruSegment"; readonly segment: Buffer }
  | { readonly kind: "Error"; readonly message: string };

/** A response does not decode or does not match its request: the stream is out of step. */
export class PagestreamResponseError extends PageserverError {
  constructor(message: string) {
    super("PS_ERR_PAGESTREAM_RESPONSE", message);
  }
}

const KIND_BY_REQUEST_TAG: readonly PagestreamRequestKind[] = [
  "Exists",
  "Nblocks",
  "GetPage",
  "DbSize",
  "GetSlruSegment",
];

/** The kind of an encoded request (its first byte). */
export function requestKindOf(request: Buffer): PagestreamRequestKind {
  const kind = KIND_BY_REQUEST_TAG[request[0] ?? 255];
  if (kind === undefined) throw new PagestreamResponseError(`unknown request tag ${request[0]}`);
  return kind;
}

function responseTagOf(kind: PagestreamRequestKind): number {
  return PagestreamRequestTag[kind] + 100;
}

/** The exact payload length each response kind must have (GetSlruSegment: checked apart). */
const PAYLOAD_BYTES: Readonly<Partial<Record<PagestreamRequestKind, number>>> = {
  Exists: 1,
  Nblocks: 4,
  GetPage: PAGE_BYTES,
  DbSize: 8,
};

function describeReqid(frame: Buffer, offset: number): string {
  const value = frame.readUInt32BE(offset) * TWO_POW_32 + frame.readUInt32BE(offset + 4);
  return String(value);
}

/**
 * Decodes `frame` (one CopyData payload) as the response to `request` (the encoded request, as
 * sent). Throws PagestreamResponseError on any mismatch.
 */
export function decodePagestreamResponse(
  frame: Buffer,
  version: PagestreamProtocolVersion,
  request: Buffer,
): PagestreamResponse {
  if (frame.length === 0) throw new PagestreamResponseError("empty pagestream response");
  const kind = requestKindOf(request);
  const tag = frame[0]!;
  let at = 1;
  if (version === 3) {
    if (frame.length < V3_HEADER_BYTES) {
      throw new PagestreamResponseError(`truncated v3 response: ${frame.length} bytes`);
    }
    if (frame.compare(request, 1, V3_HEADER_BYTES, 1, V3_HEADER_BYTES) !== 0) {
      throw new PagestreamResponseError(
        `response echo (reqid ${describeReqid(frame, 1)}) does not match the request ` +
          `(reqid ${describeReqid(request, 1)})`,
      );
    }
    at = V3_HEADER_BYTES;
  }
  if (tag === PagestreamResponseTag.Error) return decodeError(frame, at);
  if (tag !== responseTagOf(kind)) {
    throw new PagestreamResponseError(`response tag ${tag} does not answer a ${kind} request`);
  }
  if (version === 3) {
    const bodyLength = request.length - V3_HEADER_BYTES;
    if (
      frame.length < at + bodyLength ||
      frame.compare(request, V3_HEADER_BYTES, request.length, at, at + bodyLength) !== 0
    ) {
      throw new PagestreamResponseError(`${kind} response does not echo the request body`);
    }
    at += bodyLength;
  }
  return decodePayload(kind, frame.subarray(at));
}

function decodeError(frame: Buffer, at: number): PagestreamResponse {
  const nul = frame.indexOf(0, at);
  if (nul !== frame.length - 1) {
    throw new PagestreamResponseError("Error response is not a NUL-terminated message");
  }
  return { kind: "Error", message: frame.toString("utf8", at, nul) };
}

function decodePayload(kind: PagestreamRequestKind, payload: Buffer): PagestreamResponse {
  const expected = PAYLOAD_BYTES[kind];
  if (expected !== undefined && payload.length !== expected) {
    throw new PagestreamResponseError(
      `${kind} response payload is ${payload.length} bytes, expected ${expected}`,
    );
  }
  switch (kind) {
    case "Exists":
      return { kind, exists: payload[0] !== 0 };
    case "Nblocks":
      return { kind, nblocks: payload.readUInt32BE(0) };
    case "GetPage":
      return { kind, page: payload };
    case "DbSize": {
      const high = payload.readInt32BE(0);
      return { kind, dbSizeBytes: high * TWO_POW_32 + payload.readUInt32BE(4) };
    }
    case "GetSlruSegment": {
      if (payload.length < 4) throw new PagestreamResponseError("truncated GetSlruSegment");
      const blocks = payload.readUInt32BE(0);
      if (payload.length !== 4 + blocks * PAGE_BYTES) {
        throw new PagestreamResponseError(
          `GetSlruSegment response says ${blocks} blocks but carries ${payload.length - 4} bytes`,
        );
      }
      return { kind, segment: payload.subarray(4) };
    }
  }
}
