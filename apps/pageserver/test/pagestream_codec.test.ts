/**
 * Pagestream codec tests.
 *
 * Goal: every request and response is byte-exact with Neon's pagestream v2/v3
 * (`libs/pageserver_api/src/pagestream_api.rs`, `pgxn/neon` on the compute side), and a malformed
 * request fails with a typed error that still lets the stream answer.
 *
 * Method: the expected bytes are written out by hand from the layout in neon-facts.md §10 (field
 * by field, big-endian), never produced by our encoder. Requests are decoded from those bytes and
 * re-encoded back to them; responses are encoded and compared with them.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RelTag } from "../../../packages/engine/src/key/rel_tag.ts";
import { LSN_MAX, type Lsn } from "../../../packages/engine/src/lsn.ts";
import {
  decodePagestreamRequest,
  encodeDbSizeResponse,
  encodeDecodeErrorResponse,
  encodeErrorResponse,
  encodeExistsResponse,
  encodeGetPageResponse,
  encodeGetPageResponseHeader,
  encodeGetSlruSegmentResponse,
  encodeNblocksResponse,
  encodePagestreamRequest,
  formatReqid,
  getPageResponseLength,
  type PagestreamDbSizeRequest,
  PagestreamDecodeError,
  type PagestreamExistsRequest,
  type PagestreamGetPageRequest,
  type PagestreamGetSlruSegmentRequest,
  type PagestreamNblocksRequest,
  type PagestreamProtocolVersion,
  type PagestreamRequest,
  pagestreamRequestHeader,
  pagestreamRequestLength,
  pagestreamResponseLength,
  writeGetPageResponse,
} from "../src/page_service/pagestream_codec.ts";

/** Joins hex fragments into bytes; spaces inside fragments are allowed for readability. */
function hex(...parts: string[]): Buffer {
  return Buffer.from(parts.join("").replaceAll(" ", ""), "hex");
}

function asciiHex(text: string): string {
  return Buffer.from(text, "ascii").toString("hex");
}

// --- The fields, each written out by hand -------------------------------------------------------

/** pg_default (1663 = 0x67f), database 13008 (0x32d0), relfilenode 16384 (0x4000), main fork. */
const REL: RelTag = { spcNode: 1663, dbNode: 13008, relNode: 16384, forkNum: 0 };
const REL_HEX = "0000067f 000032d0 00004000 00";
/** request_lsn 0/169AD58 and not_modified_since 0/1690000. */
const REQUEST_LSN = 0x169ad58 as Lsn;
const REQUEST_LSN_HEX = "00000000 0169ad58";
const NOT_MODIFIED_SINCE = 0x1690000 as Lsn;
const NOT_MODIFIED_SINCE_HEX = "00000000 01690000";
const LATEST_HEX = "ffffffff ffffffff";
/** reqid = pid 1234 (0x4d2) << 32 | counter 5, as the compute builds it. */
const REQID = 1234 * 2 ** 32 + 5;
const REQID_HEX = "000004d2 00000005";
/** reqid = pid 4194303 (0x3fffff) << 32 | 0xffffffff = 2^54 - 1: beyond a double's exact range. */
const BIG_REQID_HEX = "003fffff ffffffff";

const V2_HEADER = { reqid: 0, reqidHigh: 0, reqidLow: 0 };
const V3_HEADER = { reqid: REQID, reqidHigh: 1234, reqidLow: 5 };
const LSNS = { requestLsn: REQUEST_LSN, notModifiedSince: NOT_MODIFIED_SINCE };
const LSNS_HEX = REQUEST_LSN_HEX + NOT_MODIFIED_SINCE_HEX;

interface RequestCase {
  readonly name: string;
  readonly version: PagestreamProtocolVersion;
  readonly bytes: Buffer;
  readonly request: PagestreamRequest;
  readonly length: number;
}

const REQUEST_CASES: readonly RequestCase[] = [
  {
    name: "Exists v2",
    version: 2,
    bytes: hex("00", LSNS_HEX, REL_HEX),
    request: { kind: "Exists", ...V2_HEADER, ...LSNS, rel: REL },
    length: 30,
  },
  {
    name: "Nblocks v2",
    version: 2,
    bytes: hex("01", LSNS_HEX, REL_HEX),
    request: { kind: "Nblocks", ...V2_HEADER, ...LSNS, rel: REL },
    length: 30,
  },
  {
    name: "GetPage v2",
    version: 2,
    bytes: hex("02", LSNS_HEX, REL_HEX, "00000007"),
    request: { kind: "GetPage", ...V2_HEADER, ...LSNS, rel: REL, blkno: 7 },
    length: 34,
  },
  {
    name: "DbSize v2",
    version: 2,
    bytes: hex("03", LSNS_HEX, "000032d0"),
    request: { kind: "DbSize", ...V2_HEADER, ...LSNS, dbNode: 13008 },
    length: 21,
  },
  {
    name: "GetSlruSegment v2",
    version: 2,
    bytes: hex("04", LSNS_HEX, "00", "0000000a"),
    request: { kind: "GetSlruSegment", ...V2_HEADER, ...LSNS, slruKind: 0, segno: 10 },
    length: 22,
  },
  {
    name: "Exists v3",
    version: 3,
    bytes: hex("00", REQID_HEX, LSNS_HEX, REL_HEX),
    request: { kind: "Exists", ...V3_HEADER, ...LSNS, rel: REL },
    length: 38,
  },
  {
    name: "Nblocks v3",
    version: 3,
    bytes: hex("01", REQID_HEX, LSNS_HEX, REL_HEX),
    request: { kind: "Nblocks", ...V3_HEADER, ...LSNS, rel: REL },
    length: 38,
  },
  {
    name: "GetPage v3",
    version: 3,
    bytes: hex("02", REQID_HEX, LSNS_HEX, REL_HEX, "00000007"),
    request: { kind: "GetPage", ...V3_HEADER, ...LSNS, rel: REL, blkno: 7 },
    length: 42,
  },
  {
    name: "DbSize v3",
    version: 3,
    bytes: hex("03", REQID_HEX, LSNS_HEX, "000032d0"),
    request: { kind: "DbSize", ...V3_HEADER, ...LSNS, dbNode: 13008 },
    length: 29,
  },
  {
    name: "GetSlruSegment v3 (multixact offsets)",
    version: 3,
    bytes: hex("04", REQID_HEX, LSNS_HEX, "02", "0000000a"),
    request: { kind: "GetSlruSegment", ...V3_HEADER, ...LSNS, slruKind: 2, segno: 10 },
    length: 30,
  },
  {
    name: "GetPage v3 at latest, fsm fork, blkno u32 max",
    version: 3,
    bytes: hex(
      "02",
      REQID_HEX,
      LATEST_HEX,
      NOT_MODIFIED_SINCE_HEX,
      "0000067f 000032d0 00004000 01",
      "ffffffff",
    ),
    request: {
      kind: "GetPage",
      ...V3_HEADER,
      requestLsn: LSN_MAX,
      notModifiedSince: NOT_MODIFIED_SINCE,
      rel: { ...REL, forkNum: 1 },
      blkno: 0xffff_ffff,
    },
    length: 42,
  },
];

describe("pagestream requests", () => {
  for (const testCase of REQUEST_CASES) {
    it(`${testCase.name}: golden bytes decode, and re-encode to the same bytes`, () => {
      assert.equal(
        testCase.bytes.length,
        testCase.length,
        "the hand-written bytes have the spec size",
      );
      assert.equal(
        pagestreamRequestLength(testCase.version, testCase.request.kind),
        testCase.length,
      );
      const decoded = decodePagestreamRequest(testCase.bytes, testCase.version);
      assert.deepEqual(decoded, testCase.request);
      assert.deepEqual(encodePagestreamRequest(testCase.version, decoded), testCase.bytes);
    });
  }

  it("a reqid above 2^53 is echoed exactly from its two halves", () => {
    const bytes = hex("02", BIG_REQID_HEX, LSNS_HEX, REL_HEX, "00000007");
    const request = decodePagestreamRequest(bytes, 3);
    assert.equal(request.reqidHigh, 0x3f_ffff);
    assert.equal(request.reqidLow, 0xffff_ffff);
    assert.equal(formatReqid(request), "18014398509481983");
    assert.deepEqual(encodePagestreamRequest(3, request), bytes);
    const header = encodeGetPageResponseHeader(3, request as PagestreamGetPageRequest);
    assert.equal(header.subarray(1, 9).toString("hex"), BIG_REQID_HEX.replaceAll(" ", ""));
  });

  it("pagestreamRequestHeader builds the halves from a number or a bigint", () => {
    const fromNumber = pagestreamRequestHeader(REQID, REQUEST_LSN, NOT_MODIFIED_SINCE);
    assert.deepEqual(fromNumber, { ...V3_HEADER, ...LSNS });
    const fromBigint = pagestreamRequestHeader(2n ** 54n - 1n, REQUEST_LSN, NOT_MODIFIED_SINCE);
    assert.equal(fromBigint.reqidHigh, 0x3f_ffff);
    assert.equal(fromBigint.reqidLow, 0xffff_ffff);
    assert.equal(formatReqid(fromBigint), "18014398509481983");
    assert.equal(formatReqid(fromNumber), String(REQID));
  });

  it("a decoded request does not alias the frame it came from", () => {
    const bytes = hex("02", REQID_HEX, LSNS_HEX, REL_HEX, "00000007");
    const request = decodePagestreamRequest(bytes, 3) as PagestreamGetPageRequest;
    bytes.fill(0);
    assert.equal(request.blkno, 7);
    assert.equal(request.rel.relNode, 16384);
  });
});

// --- Malformed requests -------------------------------------------------------------------------

function decodeFailure(bytes: Buffer, version: PagestreamProtocolVersion): PagestreamDecodeError {
  try {
    decodePagestreamRequest(bytes, version);
  } catch (error) {
    assert.ok(error instanceof PagestreamDecodeError, `unexpected error ${String(error)}`);
    assert.equal(error.code, "PS_ERR_PAGESTREAM_DECODE");
    return error;
  }
  assert.fail("the request decoded");
}

describe("malformed pagestream requests", () => {
  it("an empty frame: no tag, no header, a zero echo", () => {
    const error = decodeFailure(Buffer.alloc(0), 3);
    assert.equal(error.message, "empty pagestream request");
    assert.equal(error.tag, null);
    assert.equal(error.header, null);
    assert.deepEqual(error.echo, Buffer.alloc(24));
  });

  it("a truncated v3 header keeps the bytes it has in the echo", () => {
    const error = decodeFailure(hex("02", REQID_HEX, "0000"), 3);
    assert.match(
      error.message,
      /truncated pagestream_v3 request: 11 bytes, the header alone is 25/,
    );
    assert.equal(error.tag, 2);
    assert.equal(error.header, null);
    assert.deepEqual(error.echo, hex(REQID_HEX, "0000", "00".repeat(14)));
  });

  it("a truncated v2 header has no echo", () => {
    const error = decodeFailure(hex("02", REQUEST_LSN_HEX), 2);
    assert.match(error.message, /truncated pagestream_v2 request: 9 bytes/);
    assert.equal(error.echo.length, 0);
  });

  it("a truncated body names the kind and both sizes, and carries the header", () => {
    const error = decodeFailure(hex("02", REQID_HEX, LSNS_HEX, REL_HEX, "0000"), 3);
    assert.equal(error.message, "pagestream_v3 GetPage request is 40 bytes, expected 42");
    assert.deepEqual(error.header, { ...V3_HEADER, ...LSNS });
    assert.deepEqual(error.echo, hex(REQID_HEX, LSNS_HEX));
  });

  it("extra bytes after the body are refused", () => {
    const error = decodeFailure(hex("00", LSNS_HEX, REL_HEX, "ff"), 2);
    assert.equal(error.message, "pagestream_v2 Exists request is 31 bytes, expected 30");
    assert.deepEqual(error.header, { ...V2_HEADER, ...LSNS });
    const tooLongGetPage = decodeFailure(hex("02", REQID_HEX, LSNS_HEX, REL_HEX, "00000007 00"), 3);
    assert.equal(tooLongGetPage.message, "pagestream_v3 GetPage request is 43 bytes, expected 42");
  });

  it("an unknown tag (the testing build's 99 included) carries the header", () => {
    for (const tag of [5, 99, 255]) {
      const error = decodeFailure(
        hex(tag.toString(16).padStart(2, "0"), REQID_HEX, LSNS_HEX, REL_HEX),
        3,
      );
      assert.equal(error.message, `unknown pagestream request tag ${tag}`);
      assert.equal(error.tag, tag);
      assert.deepEqual(error.header, { ...V3_HEADER, ...LSNS });
    }
  });

  it("an LSN at or above 2^53 (not all-FF) is refused, with the raw bytes in the echo", () => {
    const cases = [
      { lsns: `00200000 00000000${NOT_MODIFIED_SINCE_HEX}`, field: "request_lsn 0020000000000000" },
      { lsns: `001fffff ffffffff${NOT_MODIFIED_SINCE_HEX}`, field: "request_lsn 001FFFFFFFFFFFFF" },
      { lsns: `${REQUEST_LSN_HEX}ffffffff fffffffe`, field: "not_modified_since FFFFFFFFFFFFFFFE" },
    ];
    for (const { lsns, field } of cases) {
      const error = decodeFailure(hex("02", REQID_HEX, lsns, REL_HEX, "00000007"), 3);
      assert.ok(error.message.toUpperCase().startsWith(field.toUpperCase()), error.message);
      assert.equal(error.header, null);
      assert.equal(error.tag, 2);
      assert.deepEqual(error.echo, hex(REQID_HEX, lsns));
    }
  });

  it("the largest representable LSN below latest decodes", () => {
    const lsnHex = "001fffff fffffffe";
    const request = decodePagestreamRequest(hex("03", lsnHex, lsnHex, "00000001"), 2);
    assert.equal(request.requestLsn, 2 ** 53 - 2);
  });

  it("an unknown SLRU kind is refused with the header", () => {
    const error = decodeFailure(hex("04", REQID_HEX, LSNS_HEX, "03", "00000000"), 3);
    assert.match(error.message, /invalid SLRU kind 3/);
    assert.deepEqual(error.header, { ...V3_HEADER, ...LSNS });
  });

  it("the Error answer to a malformed v3 request echoes its raw header", () => {
    const lsns = `00200000 00000000${NOT_MODIFIED_SINCE_HEX}`;
    const error = decodeFailure(hex("02", REQID_HEX, lsns, REL_HEX, "00000007"), 3);
    const response = encodeDecodeErrorResponse(error);
    assert.deepEqual(response, hex("67", REQID_HEX, lsns, asciiHex(error.message), "00"));
  });

  it("the Error answer to a malformed v2 request is the tag and the message", () => {
    const error = decodeFailure(hex("07", LSNS_HEX, REL_HEX), 2);
    assert.deepEqual(encodeDecodeErrorResponse(error), hex("67", asciiHex(error.message), "00"));
  });
});

// --- Responses ----------------------------------------------------------------------------------

const V3_ECHO_HEX = REQID_HEX + LATEST_HEX + NOT_MODIFIED_SINCE_HEX;
const V3_LSNS = { requestLsn: LSN_MAX, notModifiedSince: NOT_MODIFIED_SINCE };
const EXISTS: PagestreamExistsRequest = { kind: "Exists", ...V3_HEADER, ...V3_LSNS, rel: REL };
const NBLOCKS: PagestreamNblocksRequest = { kind: "Nblocks", ...V3_HEADER, ...V3_LSNS, rel: REL };
const GET_PAGE: PagestreamGetPageRequest = {
  kind: "GetPage",
  ...V3_HEADER,
  ...V3_LSNS,
  rel: REL,
  blkno: 7,
};
const DB_SIZE: PagestreamDbSizeRequest = {
  kind: "DbSize",
  ...V3_HEADER,
  ...V3_LSNS,
  dbNode: 13008,
};
const SLRU: PagestreamGetSlruSegmentRequest = {
  kind: "GetSlruSegment",
  ...V3_HEADER,
  ...V3_LSNS,
  slruKind: 0,
  segno: 10,
};

/** A page whose bytes are not all alike, so a misplaced copy shows. */
function testPage(seed: number): Buffer {
  const page = Buffer.alloc(8192);
  for (let i = 0; i < page.length; i++) page[i] = (i * 31 + seed) & 0xff;
  return page;
}

describe("pagestream responses", () => {
  it("Exists: v2 tag + bool; v3 tag + header echo + reltag echo + bool (39 bytes)", () => {
    assert.deepEqual(encodeExistsResponse(2, EXISTS, true), hex("64 01"));
    assert.deepEqual(encodeExistsResponse(2, EXISTS, false), hex("64 00"));
    const v3 = encodeExistsResponse(3, EXISTS, true);
    assert.deepEqual(v3, hex("64", V3_ECHO_HEX, REL_HEX, "01"));
    assert.equal(v3.length, 39);
  });

  it("Nblocks: v2 tag + u32; v3 with the reltag echo (42 bytes)", () => {
    assert.deepEqual(encodeNblocksResponse(2, NBLOCKS, 256), hex("65 00000100"));
    const v3 = encodeNblocksResponse(3, NBLOCKS, 0xffff_fffe);
    assert.deepEqual(v3, hex("65", V3_ECHO_HEX, REL_HEX, "fffffffe"));
    assert.equal(v3.length, 42);
  });

  it("GetPage: v2 tag + page (8193 bytes); v3 tag + echo + reltag + blkno + page (8234)", () => {
    const page = testPage(1);
    const v2 = encodeGetPageResponse(2, GET_PAGE, page);
    assert.deepEqual(v2, Buffer.concat([hex("66"), page]));
    assert.equal(getPageResponseLength(2), 8193);
    const v3 = encodeGetPageResponse(3, GET_PAGE, page);
    assert.deepEqual(v3, Buffer.concat([hex("66", V3_ECHO_HEX, REL_HEX, "00000007"), page]));
    assert.equal(v3.length, 8234);
    assert.equal(getPageResponseLength(3), 8234);
  });

  it("GetPage framed in CopyData: 'd', length 8238, then the response, in one buffer", () => {
    const page = testPage(2);
    const framed = encodeGetPageResponse(3, GET_PAGE, page, { copyData: true });
    assert.deepEqual(
      framed,
      Buffer.concat([hex("64 0000202e", "66", V3_ECHO_HEX, REL_HEX, "00000007"), page]),
    );
  });

  it("GetPage written into caller-owned memory at an offset", () => {
    const page = testPage(6);
    const target = Buffer.alloc(3 + 8239 + 2, 0xee);
    const end = writeGetPageResponse(target, 3, 3, GET_PAGE, page, { copyData: true });
    assert.equal(end, 3 + 8239);
    assert.deepEqual(
      target.subarray(3, end),
      encodeGetPageResponse(3, GET_PAGE, page, { copyData: true }),
    );
    assert.deepEqual(target.subarray(0, 3), hex("eeeeee"));
    assert.deepEqual(target.subarray(end), hex("eeee"));
    assert.throws(
      () => writeGetPageResponse(target, 6, 3, GET_PAGE, page, { copyData: true }),
      /too small/,
    );
  });

  it("slab-carved responses do not overlap", () => {
    const responses = Array.from({ length: 100 }, (_, i) =>
      encodeGetPageResponse(3, GET_PAGE, testPage(i)),
    );
    responses.forEach((response, i) => {
      assert.deepEqual(response.subarray(42), testPage(i), `response ${i}`);
    });
  });

  it("the GetPage header alone plus the page equals the whole response", () => {
    const page = testPage(3);
    for (const version of [2, 3] as const) {
      for (const copyData of [false, true]) {
        const header = encodeGetPageResponseHeader(version, GET_PAGE, { copyData });
        const whole = encodeGetPageResponse(version, GET_PAGE, page, { copyData });
        assert.deepEqual(Buffer.concat([header, page]), whole, `v${version} copyData=${copyData}`);
      }
    }
    assert.deepEqual(
      encodeGetPageResponseHeader(2, GET_PAGE, { copyData: true }),
      hex("64 00002005 66"),
    );
  });

  it("DbSize: v2 tag + i64; v3 with the dbnode echo (37 bytes)", () => {
    assert.deepEqual(encodeDbSizeResponse(2, DB_SIZE, 8192 * 1000), hex("68 00000000 007d0000"));
    const v3 = encodeDbSizeResponse(3, DB_SIZE, 3 * 2 ** 40);
    assert.deepEqual(v3, hex("68", V3_ECHO_HEX, "000032d0", "00000300 00000000"));
    assert.equal(v3.length, 37);
  });

  it("GetSlruSegment: v2 tag + n + blocks; v3 with the kind and segno echo", () => {
    const segment = Buffer.concat([testPage(4), testPage(5)]);
    assert.deepEqual(
      encodeGetSlruSegmentResponse(2, SLRU, segment),
      Buffer.concat([hex("69 00000002"), segment]),
    );
    const v3 = encodeGetSlruSegmentResponse(3, SLRU, segment);
    assert.deepEqual(
      v3,
      Buffer.concat([hex("69", V3_ECHO_HEX, "00 0000000a", "00000002"), segment]),
    );
    assert.equal(v3.length, pagestreamResponseLength(3, "GetSlruSegment", 4 + segment.length));
    assert.deepEqual(
      encodeGetSlruSegmentResponse(3, SLRU, Buffer.alloc(0)),
      hex("69", V3_ECHO_HEX, "00 0000000a 00000000"),
    );
  });

  it("Error: v2 tag + message + NUL; v3 echoes the three header fields only", () => {
    const message = "relation 1663/13008/16384 not found";
    assert.deepEqual(encodeErrorResponse(2, GET_PAGE, message), hex("67", asciiHex(message), "00"));
    assert.deepEqual(
      encodeErrorResponse(3, GET_PAGE, message),
      hex("67", V3_ECHO_HEX, asciiHex(message), "00"),
    );
    assert.deepEqual(
      encodeErrorResponse(3, GET_PAGE, "x", { copyData: true }),
      hex("64 0000001f", "67", V3_ECHO_HEX, "78 00"),
    );
  });

  it("Error: a NUL inside the message is escaped, so the compute reads the message to its end", () => {
    assert.deepEqual(encodeErrorResponse(2, GET_PAGE, "a\0b"), hex("67", asciiHex("a\\0b"), "00"));
  });

  it("every response kind can be framed in CopyData", () => {
    const unframed = encodeNblocksResponse(3, NBLOCKS, 9);
    const framed = encodeNblocksResponse(3, NBLOCKS, 9, { copyData: true });
    const length = Buffer.alloc(4);
    length.writeInt32BE(unframed.length + 4);
    assert.deepEqual(framed, Buffer.concat([hex("64"), length, unframed]));
  });
});
