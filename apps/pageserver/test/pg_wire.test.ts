/**
 * PostgreSQL wire protocol tests: the frame reader, the backend encoders and the page service's
 * command parser.
 *
 * Goal: framing is independent of how TCP cuts the stream; views are handed out without copies
 * where a message lies in one chunk; malformed and oversized input fails as a `PgProtocolError`
 * before anything large is buffered; every encoder is byte-exact; commands parse as Neon's do.
 *
 * Method: a fixed conversation (startup, query, pipelined CopyData, CopyDone, Terminate) is
 * written out by hand, then fed cut at every byte boundary and at every pair of boundaries.
 * Encoders are compared with expected bytes written by hand from the protocol documentation.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LSN_MAX } from "../../../packages/engine/src/lsn.ts";
import {
  encodeAuthenticationCleartextPassword,
  encodeAuthenticationOk,
  encodeBackendKeyData,
  encodeCommandComplete,
  encodeCopyBothResponse,
  encodeCopyData,
  encodeCopyDataHeader,
  encodeCopyDone,
  encodeCopyOutResponse,
  encodeDataRow,
  encodeEmptyQueryResponse,
  encodeEncryptionRefused,
  encodeErrorResponse,
  encodeNegotiateProtocolVersion,
  encodeNoticeResponse,
  encodeParameterStatus,
  encodeReadyForQuery,
  encodeRowDescription,
  PageServiceCommandError,
  PG_MESSAGE_LENGTH_MAX,
  PgFrameReader,
  type PgFrontendMessage,
  PgProtocolError,
  parsePageServiceCommand,
  writeCopyDataHeader,
} from "../src/page_service/pg_wire.ts";

function hex(...parts: string[]): Buffer {
  return Buffer.from(parts.join("").replaceAll(" ", ""), "hex");
}

function asciiHex(text: string): string {
  return Buffer.from(text, "ascii").toString("hex");
}

/** Int32 big-endian as hex. */
function int32(value: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32BE(value);
  return bytes.toString("hex");
}

/** A typed frontend message: type byte, Int32 length (counting itself), body. */
function typed(type: string, bodyHex: string): string {
  const body = bodyHex.replaceAll(" ", "");
  return asciiHex(type) + int32(4 + body.length / 2) + body;
}

function cstring(text: string): string {
  return `${asciiHex(text)}00`;
}

const TENANT = "1f359dd625e519a1a4e8d7509690f6fc";
const TIMELINE = "de200bd42b49cc1814412c7e592dd6e9";

const STARTUP_BODY =
  int32(196608) +
  cstring("user") +
  cstring("cloud_admin") +
  cstring("database") +
  cstring("postgres") +
  cstring("options") +
  cstring("-c neon.compute_mode=primary") +
  "00";
const STARTUP_HEX = int32(4 + STARTUP_BODY.length / 2) + STARTUP_BODY;
const QUERY_TEXT = `pagestream_v3 ${TENANT} ${TIMELINE}`;
const GET_PAGE_HEX =
  "02 000004d200000005 ffffffffffffffff 0000000001690000 0000067f000032d00000400000 00000007";

/** The conversation of a compute opening a pagestream, as the server receives it. */
const CONVERSATION = hex(
  STARTUP_HEX,
  typed("p", cstring("jwt.token.here")),
  typed("Q", cstring(QUERY_TEXT)),
  typed("d", GET_PAGE_HEX),
  typed("d", "ff"),
  typed("d", ""),
  typed("c", ""),
  typed("X", ""),
);

const EXPECTED: readonly PgFrontendMessage[] = [
  {
    type: "StartupMessage",
    protocolMajor: 3,
    protocolMinor: 0,
    parameters: Object.assign(Object.create(null), {
      user: "cloud_admin",
      database: "postgres",
      options: "-c neon.compute_mode=primary",
    }),
  },
  { type: "PasswordMessage", password: "jwt.token.here" },
  { type: "Query", query: QUERY_TEXT },
  { type: "CopyData", data: hex(GET_PAGE_HEX) },
  { type: "CopyData", data: hex("ff") },
  { type: "CopyData", data: Buffer.alloc(0) },
  { type: "CopyDone" },
  { type: "Terminate" },
];

function drain(reader: PgFrameReader, into: PgFrontendMessage[]): void {
  for (let message = reader.next(); message !== null; message = reader.next()) into.push(message);
}

function readChunks(chunks: readonly Buffer[]): PgFrontendMessage[] {
  const reader = new PgFrameReader();
  const messages: PgFrontendMessage[] = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    drain(reader, messages);
  }
  assert.equal(reader.bufferedBytes, 0);
  return messages;
}

function protocolFailure(bytes: Buffer, options?: ConstructorParameters<typeof PgFrameReader>[0]) {
  const reader = new PgFrameReader(options);
  reader.push(bytes);
  try {
    drain(reader, []);
  } catch (error) {
    assert.ok(error instanceof PgProtocolError, `unexpected error ${String(error)}`);
    assert.throws(
      () => reader.next(),
      (again) => again === error,
      "the reader stays failed",
    );
    return error;
  }
  assert.fail("no protocol error");
}

describe("PgFrameReader", () => {
  it("reads the conversation in one chunk", () => {
    assert.deepEqual(readChunks([CONVERSATION]), EXPECTED);
  });

  it("reads it cut at every byte boundary", () => {
    for (let cut = 1; cut < CONVERSATION.length; cut++) {
      const chunks = [CONVERSATION.subarray(0, cut), CONVERSATION.subarray(cut)];
      assert.deepEqual(readChunks(chunks), EXPECTED, `cut at ${cut}`);
    }
  });

  it("reads it cut at every pair of byte boundaries", () => {
    for (let first = 1; first < CONVERSATION.length; first++) {
      for (let second = first + 1; second < CONVERSATION.length; second++) {
        const chunks = [
          CONVERSATION.subarray(0, first),
          CONVERSATION.subarray(first, second),
          CONVERSATION.subarray(second),
        ];
        assert.deepEqual(readChunks(chunks), EXPECTED, `cuts at ${first} and ${second}`);
      }
    }
  });

  it("reads it one byte at a time, with empty chunks in between", () => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < CONVERSATION.length; i++) {
      chunks.push(CONVERSATION.subarray(i, i + 1), Buffer.alloc(0));
    }
    assert.deepEqual(readChunks(chunks), EXPECTED);
  });

  it("hands out 32 pipelined CopyData bodies as views of the one chunk", () => {
    const chunk = hex(typed("d", GET_PAGE_HEX).repeat(32));
    const reader = new PgFrameReader({ phase: "typed" });
    reader.push(chunk);
    for (let i = 0; i < 32; i++) {
      const message = reader.next();
      assert.ok(message?.type === "CopyData");
      assert.equal(message.data.buffer, chunk.buffer, "no copy");
      assert.equal(message.data.byteOffset, chunk.byteOffset + i * 47 + 5);
      assert.deepEqual(message.data, hex(GET_PAGE_HEX));
    }
    assert.equal(reader.next(), null);
    assert.equal(reader.bufferedBytes, 0);
  });

  it("copies a body that straddles chunks, once, and leaves the rest as views", () => {
    const stream = hex(typed("d", GET_PAGE_HEX), typed("d", GET_PAGE_HEX));
    // Buffer.alloc never hands out slices of the shared pool, so `.buffer` identifies the chunk.
    const first = Buffer.alloc(20);
    const second = Buffer.alloc(stream.length - 20);
    stream.copy(first, 0, 0, 20);
    stream.copy(second, 0, 20);
    const reader = new PgFrameReader({ phase: "typed" });
    reader.push(first);
    assert.equal(reader.next(), null);
    assert.equal(reader.bufferedBytes, 20);
    reader.push(second);
    const straddling = reader.next();
    const inside = reader.next();
    assert.ok(straddling?.type === "CopyData" && inside?.type === "CopyData");
    assert.deepEqual(straddling.data, hex(GET_PAGE_HEX));
    assert.notEqual(straddling.data.buffer, first.buffer);
    assert.notEqual(straddling.data.buffer, second.buffer);
    assert.equal(inside.data.buffer, second.buffer);
  });

  it("SSLRequest and GSSENCRequest keep the startup phase; StartupMessage ends it", () => {
    const reader = new PgFrameReader();
    reader.push(hex("00000008 04d2162f", "00000008 04d21630"));
    assert.deepEqual(reader.next(), { type: "SSLRequest" });
    assert.equal(reader.phase, "startup");
    assert.deepEqual(reader.next(), { type: "GSSENCRequest" });
    assert.equal(reader.next(), null);
    reader.push(hex(STARTUP_HEX));
    assert.equal(reader.next()?.type, "StartupMessage");
    assert.equal(reader.phase, "typed");
  });

  it("parses a CancelRequest", () => {
    const reader = new PgFrameReader();
    reader.push(hex("00000010 04d2162e 000004d2 deadbeef"));
    assert.deepEqual(reader.next(), {
      type: "CancelRequest",
      processId: 1234,
      secretKey: -559038737,
    });
  });

  it("reports a minor protocol version above 0 for the server to negotiate", () => {
    const body = `${int32(196610) + cstring("user") + cstring("u")}00`;
    const reader = new PgFrameReader();
    reader.push(hex(int32(4 + body.length / 2), body));
    const message = reader.next();
    assert.ok(message?.type === "StartupMessage");
    assert.equal(message.protocolMinor, 2);
  });

  it("parses the extended-query messages minimally", () => {
    const reader = new PgFrameReader({ phase: "typed" });
    reader.push(hex(typed("P", "00 73656c65637400 0000"), typed("S", "")));
    assert.deepEqual(reader.next(), { type: "Parse", body: hex("00 73656c65637400 0000") });
    assert.deepEqual(reader.next(), { type: "Sync" });
  });
});

describe("PgFrameReader refuses malformed input", () => {
  it("a typed message over the length limit, as soon as its header is in", () => {
    const error = protocolFailure(hex("64", int32(PG_MESSAGE_LENGTH_MAX + 1)), { phase: "typed" });
    assert.equal(
      error.message,
      `message type 'd' of ${PG_MESSAGE_LENGTH_MAX + 1} bytes exceeds the limit of ${PG_MESSAGE_LENGTH_MAX} bytes`,
    );
    assert.equal(error.sqlState, "08P01");
  });

  it("accepts exactly the limit and refuses one byte more", () => {
    const limit = 64;
    const reader = new PgFrameReader({ phase: "typed", messageLengthMax: limit });
    reader.push(hex(typed("d", "00".repeat(limit - 4))));
    assert.equal(reader.next()?.type, "CopyData");
    const error = protocolFailure(hex(typed("d", "00".repeat(limit - 3))), {
      phase: "typed",
      messageLengthMax: limit,
    });
    assert.match(error.message, /of 65 bytes exceeds the limit of 64 bytes/);
  });

  it("negative and too-short lengths", () => {
    const negative = protocolFailure(hex("64 ffffffff"), { phase: "typed" });
    assert.equal(negative.message, "invalid length -1 of message type 'd'");
    const short = protocolFailure(hex("51 00000003"), { phase: "typed" });
    assert.equal(short.message, "invalid length 3 of message type 'Q'");
  });

  it("startup lengths outside 8..10000", () => {
    assert.match(
      protocolFailure(hex("00000007 00030000")).message,
      /invalid startup message length 7/,
    );
    assert.match(protocolFailure(hex("00002711")).message, /invalid startup message length 10001/);
    assert.match(
      protocolFailure(hex("80000000")).message,
      /invalid startup message length -2147483648/,
    );
  });

  it("an unsupported protocol version", () => {
    const error = protocolFailure(hex("00000008 00020000"));
    assert.equal(error.message, "unsupported frontend protocol 2.0: server supports 3.0");
    assert.equal(error.sqlState, "0A000");
    assert.match(
      protocolFailure(hex("00000008 04d2ffff")).message,
      /unsupported frontend protocol 1234/,
    );
  });

  it("special requests of the wrong size", () => {
    assert.equal(
      protocolFailure(hex("0000000c 04d2162f 00000000")).message,
      "SSLRequest must be 8 bytes, got 12",
    );
    assert.equal(
      protocolFailure(hex("0000000c 04d2162e 00000001")).message,
      "CancelRequest must be 16 bytes, got 12",
    );
  });

  it("startup parameters without their terminator, or with bytes after it", () => {
    const unterminated = int32(196608) + cstring("user") + cstring("u");
    assert.match(
      protocolFailure(hex(int32(4 + unterminated.length / 2), unterminated)).message,
      /not NUL-terminated/,
    );
    const trailing = `${int32(196608)}0041`;
    assert.match(
      protocolFailure(hex(int32(4 + trailing.length / 2), trailing)).message,
      /after the terminator/,
    );
    const bare = int32(196608);
    assert.match(
      protocolFailure(hex(int32(4 + bare.length / 2), bare)).message,
      /not NUL-terminated/,
    );
  });

  it("an unknown message type, and bodies that do not match their type", () => {
    assert.equal(
      protocolFailure(hex(typed("Z", "49")), { phase: "typed" }).message,
      "unexpected frontend message type 'Z'",
    );
    assert.equal(
      protocolFailure(hex("01 00000004"), { phase: "typed" }).message,
      "unexpected frontend message type 0x01",
    );
    assert.match(
      protocolFailure(hex(typed("Q", asciiHex("select"))), { phase: "typed" }).message,
      /Query message is not one NUL-terminated string/,
    );
    assert.match(
      protocolFailure(hex(typed("Q", "61 00 62 00")), { phase: "typed" }).message,
      /Query message/,
    );
    assert.match(
      protocolFailure(hex(typed("c", "00")), { phase: "typed" }).message,
      /CopyDone message must be empty, it has 1 bytes/,
    );
  });
});

describe("backend message encoders", () => {
  it("ReadyForQuery", () => {
    assert.deepEqual(encodeReadyForQuery(), hex("5a 00000005 49"));
    assert.deepEqual(encodeReadyForQuery("E"), hex("5a 00000005 45"));
  });

  it("authentication, parameter status and backend key data", () => {
    assert.deepEqual(encodeAuthenticationOk(), hex("52 00000008 00000000"));
    assert.deepEqual(encodeAuthenticationCleartextPassword(), hex("52 00000008 00000003"));
    assert.deepEqual(
      encodeParameterStatus("server_version", "14.1"),
      hex("53 00000018", cstring("server_version"), cstring("14.1")),
    );
    assert.deepEqual(encodeBackendKeyData(1234, -1), hex("4b 0000000c 000004d2 ffffffff"));
  });

  it("RowDescription of a text column and DataRow with a NULL", () => {
    assert.deepEqual(
      encodeRowDescription(["valid_until"]),
      hex("54 00000024 0001", cstring("valid_until"), "00000000 0000 00000019 ffff ffffffff 0000"),
    );
    assert.deepEqual(
      encodeDataRow(["1700000000000", null]),
      hex("44 0000001b 0002 0000000d", asciiHex("1700000000000"), "ffffffff"),
    );
    assert.deepEqual(encodeDataRow(["é"]), hex("44 0000000c 0001 00000002 c3a9"));
  });

  it("CommandComplete and EmptyQueryResponse", () => {
    assert.deepEqual(encodeCommandComplete("SELECT 1"), hex("43 0000000d", cstring("SELECT 1")));
    assert.deepEqual(encodeEmptyQueryResponse(), hex("49 00000004"));
  });

  it("ErrorResponse and NoticeResponse with S, V, C, M (and D, H)", () => {
    const fields = hex(
      "53",
      cstring("ERROR"),
      "56",
      cstring("ERROR"),
      "43",
      cstring("08P01"),
      "4d",
      cstring("bad"),
      "00",
    );
    assert.deepEqual(
      encodeErrorResponse({ severity: "ERROR", sqlState: "08P01", message: "bad" }),
      Buffer.concat([hex("45 0000001f"), fields]),
    );
    assert.deepEqual(
      encodeNoticeResponse({ severity: "ERROR", sqlState: "08P01", message: "bad" }),
      Buffer.concat([hex("4e 0000001f"), fields]),
    );
    const withDetail = encodeErrorResponse({
      severity: "FATAL",
      sqlState: "XX000",
      message: "m",
      detail: "d",
      hint: "h",
    });
    assert.deepEqual(
      withDetail,
      hex(
        "45 00000023 53",
        cstring("FATAL"),
        "56",
        cstring("FATAL"),
        "43",
        cstring("XX000"),
        "4d",
        cstring("m"),
        "44",
        cstring("d"),
        "48",
        cstring("h"),
        "00",
      ),
    );
  });

  it("ErrorResponse escapes a NUL coming from client text", () => {
    const message = encodeErrorResponse({ severity: "ERROR", sqlState: "42601", message: "a\0b" });
    assert.ok(message.includes(Buffer.from("a\\0b\0")));
  });

  it("CopyBothResponse, CopyOutResponse, CopyDone", () => {
    assert.deepEqual(encodeCopyBothResponse(), hex("57 00000007 00 0000"));
    assert.deepEqual(encodeCopyOutResponse(), hex("48 00000007 00 0000"));
    assert.deepEqual(encodeCopyDone(), hex("63 00000004"));
  });

  it("CopyData whole, header alone, and header written in place", () => {
    assert.deepEqual(encodeCopyData(Buffer.from("abc")), hex("64 00000007 616263"));
    assert.deepEqual(encodeCopyDataHeader(8234), hex("64 0000202e"));
    const target = Buffer.alloc(9, 0xee);
    assert.equal(writeCopyDataHeader(target, 2, 0), 7);
    assert.deepEqual(target, hex("eeee 64 00000004 eeee"));
  });

  it("the answer to SSLRequest, and NegotiateProtocolVersion", () => {
    assert.deepEqual(encodeEncryptionRefused(), hex("4e"));
    assert.deepEqual(
      encodeNegotiateProtocolVersion(0, ["_pq_.foo"]),
      hex("76 00000015 00000000 00000001", cstring("_pq_.foo")),
    );
  });
});

function commandFailure(query: string): PageServiceCommandError {
  try {
    parsePageServiceCommand(query);
  } catch (error) {
    assert.ok(error instanceof PageServiceCommandError, `unexpected error ${String(error)}`);
    assert.equal(error.sqlState, "42601");
    return error;
  }
  assert.fail(`'${query}' parsed`);
}

describe("page service commands", () => {
  it("pagestream_v2 and pagestream_v3, any case, any whitespace", () => {
    assert.deepEqual(parsePageServiceCommand(`pagestream_v3 ${TENANT} ${TIMELINE}`), {
      kind: "PageStream",
      protocolVersion: 3,
      tenantId: TENANT,
      timelineId: TIMELINE,
    });
    const v2 = parsePageServiceCommand(`  PageStream_V2\t${TENANT}   ${TIMELINE}\n`);
    assert.ok(v2.kind === "PageStream");
    assert.equal(v2.protocolVersion, 2);
  });

  it("pagestream with bad ids or the wrong argument count", () => {
    assert.equal(
      commandFailure(`pagestream_v3 xyz ${TIMELINE}`).message,
      "invalid tenant id 'xyz': expected 32 lowercase hex digits",
    );
    assert.equal(
      commandFailure(`pagestream_v3 ${TENANT} xyz`).message,
      "invalid timeline id 'xyz': expected 32 lowercase hex digits",
    );
    assert.match(
      commandFailure(`pagestream_v3 ${TENANT.toUpperCase()} ${TIMELINE}`).message,
      /invalid tenant id/,
    );
    assert.equal(
      commandFailure(`pagestream_v3 ${TENANT}`).message,
      "invalid number of arguments for pagestream_v3: expected pagestream_v3 <tenant_id> <timeline_id>, got 1 argument",
    );
    assert.match(
      commandFailure(`pagestream_v2 ${TENANT} ${TIMELINE} extra`).message,
      /got 3 arguments/,
    );
  });

  it("basebackup with and without an LSN, latest, and flags", () => {
    const base = { kind: "BaseBackup", tenantId: TENANT, timelineId: TIMELINE };
    assert.deepEqual(parsePageServiceCommand(`basebackup ${TENANT} ${TIMELINE}`), {
      ...base,
      lsn: null,
      gzip: false,
      replica: false,
    });
    assert.deepEqual(parsePageServiceCommand(`basebackup ${TENANT} ${TIMELINE} latest --replica`), {
      ...base,
      lsn: null,
      gzip: false,
      replica: true,
    });
    assert.deepEqual(
      parsePageServiceCommand(`basebackup ${TENANT} ${TIMELINE} 0/16B3748 --gzip --replica`),
      {
        ...base,
        lsn: 0x16b3748,
        gzip: true,
        replica: true,
      },
    );
    assert.deepEqual(parsePageServiceCommand(`BASEBACKUP ${TENANT} ${TIMELINE} --gzip`), {
      ...base,
      lsn: null,
      gzip: true,
      replica: false,
    });
  });

  it("basebackup errors name the culprit", () => {
    assert.equal(
      commandFailure(`basebackup ${TENANT} ${TIMELINE} 0/1 --gzip --gzip`).message,
      "duplicate parameter for basebackup command: --gzip",
    );
    assert.equal(
      commandFailure(`basebackup ${TENANT} ${TIMELINE} --fast`).message,
      "invalid parameter for basebackup command: --fast",
    );
    assert.match(
      commandFailure(`basebackup ${TENANT} ${TIMELINE} 0/XYZ`).message,
      /^invalid LSN '0\/XYZ'/,
    );
    assert.match(
      commandFailure(`basebackup ${TENANT} ${TIMELINE} FFFFFFFF/0`).message,
      /above 2\^53/,
    );
    assert.match(
      commandFailure(`basebackup ${TENANT}`).message,
      /invalid number of arguments for basebackup/,
    );
  });

  it("fullbackup with 2 to 4 arguments", () => {
    assert.deepEqual(parsePageServiceCommand(`fullbackup ${TENANT} ${TIMELINE}`), {
      kind: "FullBackup",
      tenantId: TENANT,
      timelineId: TIMELINE,
      lsn: null,
      prevLsn: null,
    });
    assert.deepEqual(parsePageServiceCommand(`fullbackup ${TENANT} ${TIMELINE} 1/0 0/FFFFFFF8`), {
      kind: "FullBackup",
      tenantId: TENANT,
      timelineId: TIMELINE,
      lsn: 2 ** 32,
      prevLsn: 0xffff_fff8,
    });
    assert.match(
      commandFailure(`fullbackup ${TENANT} ${TIMELINE} 0/1 0/2 0/3`).message,
      /got 5 arguments/,
    );
    assert.match(
      commandFailure(`fullbackup ${TENANT} ${TIMELINE} 0/1 latest`).message,
      /invalid LSN 'latest'/,
    );
  });

  it("lease lsn with a tenant shard id", () => {
    assert.deepEqual(parsePageServiceCommand(`lease lsn ${TENANT}-0104 ${TIMELINE} 0/16B3748`), {
      kind: "LeaseLsn",
      tenantShardId: { tenantId: TENANT, shardNumber: 1, shardCount: 4 },
      timelineId: TIMELINE,
      lsn: 0x16b3748,
    });
    const unsharded = parsePageServiceCommand(`LEASE LSN ${TENANT} ${TIMELINE} FFFFFFFF/FFFFFFFF`);
    assert.ok(unsharded.kind === "LeaseLsn");
    assert.equal(unsharded.lsn, LSN_MAX);
    assert.match(
      commandFailure(`lease lsn ${TENANT}-01 ${TIMELINE} 0/1`).message,
      /invalid tenant shard id/,
    );
    assert.equal(
      commandFailure("lease foo").message,
      "invalid lease command: expected 'lease lsn', got 'lease foo'",
    );
    assert.match(
      commandFailure(`lease lsn ${TENANT} ${TIMELINE}`).message,
      /invalid number of arguments for lease lsn/,
    );
  });

  it("set, empty queries and unknown commands", () => {
    assert.deepEqual(parsePageServiceCommand("SET datestyle TO 'ISO'"), {
      kind: "Set",
      text: "SET datestyle TO 'ISO'",
    });
    assert.deepEqual(parsePageServiceCommand(""), { kind: "Empty" });
    assert.deepEqual(parsePageServiceCommand(" \t\n"), { kind: "Empty" });
    assert.equal(commandFailure("select 1").message, "unsupported command 'select'");
    assert.equal(
      commandFailure("identify_system").message,
      "unsupported command 'identify_system'",
    );
  });
});
