/**
 * The server side of the PostgreSQL v3 wire protocol, as much of it as the page service speaks:
 * framing of frontend messages, encoders for the backend messages we send, and the parser of the
 * page service's simple-query commands (`pagestream_v3 <tenant> <timeline>`, `basebackup ...`).
 *
 * # Framing: `PgFrameReader`
 * The reader is fed socket chunks with `push(chunk)` and hands out whole messages with `next()`
 * (null when the next message is still incomplete). It is an explicit two-phase state machine:
 *
 *     startup ──StartupMessage──▶ typed
 *       ▲  │
 *       └──┘ SSLRequest / GSSENCRequest / CancelRequest (still no type byte after these)
 *
 * In the startup phase a message is `Int32 length, Int32 code, body`; afterwards it is
 * `Byte1 type, Int32 length, body`, the length counting itself but not the type byte.
 *
 * Invariants, and why:
 * - **Views before copies.** Chunks are kept in a list and never concatenated as a whole. A message
 *   body that lies inside one chunk is returned as a `subarray` of that chunk (zero copy: the
 *   pipelined GetPage path frames 32 requests out of one socket read without copying a byte). Only
 *   a body that straddles chunks is copied, once, into a buffer of exactly its size. The views keep
 *   the socket chunk alive, so a caller that holds on to a body for long should copy it.
 * - **Bounded.** A length is checked as soon as its 4 bytes are in, before the body is awaited:
 *   a typed message above `PG_MESSAGE_LENGTH_MAX` (1 MiB; a pagestream request is 42 bytes) or a
 *   startup message above PostgreSQL's `MAX_STARTUP_PACKET_LENGTH` (10,000) is refused, so a client
 *   cannot make us buffer more than one bounded message ahead of what we have decoded. The caller
 *   drains `next()` after every `push()`; `bufferedBytes` tells what is still held.
 * - **Fail once, stay failed.** Bad input is a `PgProtocolError` (never an exception of another
 *   kind); the reader then refuses to go on, because the framing is lost. The connection answers
 *   an ErrorResponse carrying the error's SQLSTATE and closes.
 *
 * # Encoders
 * Each backend message is written into one `Buffer.allocUnsafe` of its exact size (every byte is
 * overwritten). CopyData has a header-only form (`encodeCopyDataHeader`, `writeCopyDataHeader`) so
 * a page can go out as `cork(); write(header); write(payload); uncork()` or be framed in place by
 * the pagestream encoders, without copying the payload twice.
 *
 * # Commands
 * `parsePageServiceCommand` follows Neon's `PageServiceCmd::parse`: case-insensitive command word,
 * whitespace-separated arguments, ids as 32 lowercase hex digits, LSNs as `X/Y`. Every failure is a
 * `PageServiceCommandError` (SQLSTATE 42601): the connection answers an ErrorResponse and
 * ReadyForQuery and stays open.
 */
import { assert } from "../../../../packages/engine/src/assert.ts";
import {
  type ErrorContext,
  InvalidArgumentError,
  PageserverError,
} from "../../../../packages/engine/src/errors.ts";
import {
  parseTenantId,
  parseTenantShardId,
  parseTimelineId,
  type TenantId,
  type TenantShardId,
  type TimelineId,
} from "../../../../packages/engine/src/ids.ts";
import { type Lsn, parseLsn } from "../../../../packages/engine/src/lsn.ts";

// ---------------------------------------------------------------------------------------------
// Limits and protocol constants
// ---------------------------------------------------------------------------------------------

/**
 * The largest typed frontend message we accept, as its length field counts it (body + 4). The
 * page service receives queries, passwords (a JWT) and 42-byte pagestream requests: 1 MiB is
 * generous and bounds what one client can make us buffer.
 */
export const PG_MESSAGE_LENGTH_MAX = 1024 * 1024;
/** PostgreSQL's `MAX_STARTUP_PACKET_LENGTH`, counting the length field. */
export const PG_STARTUP_MESSAGE_LENGTH_MAX = 10_000;
/** StartupMessage code of protocol 3.0 (`3 << 16`). */
export const PG_PROTOCOL_VERSION_3_0 = 196_608;
export const PG_SSL_REQUEST_CODE = 80_877_103;
export const PG_GSSENC_REQUEST_CODE = 80_877_104;
export const PG_CANCEL_REQUEST_CODE = 80_877_102;
/** A CopyData message's header: `'d'` and the Int32 length. */
export const COPY_DATA_HEADER_BYTES = 5;
/** The largest CopyData payload whose length still fits the Int32 length field. */
export const COPY_DATA_PAYLOAD_BYTES_MAX = 0x7fff_ffff - 4;

export const SQLSTATE_PROTOCOL_VIOLATION = "08P01";
export const SQLSTATE_FEATURE_NOT_SUPPORTED = "0A000";
export const SQLSTATE_SYNTAX_ERROR = "42601";
export const SQLSTATE_INTERNAL_ERROR = "XX000";

/** The header and length bytes a typed message has before its body. */
const TYPED_HEADER_BYTES = 5;
/** Consumed chunk slots are dropped from the list once this many have piled up in front. */
const CHUNK_SLOTS_COMPACT_MIN = 16;
const EMPTY_BUFFER = Buffer.alloc(0);
const PG_TEXT_TYPE_OID = 25;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/**
 * The frontend broke the wire protocol (bad length, unknown message type, malformed startup).
 * Framing is lost: answer an ErrorResponse with `sqlState` and close the connection.
 */
export class PgProtocolError extends PageserverError {
  readonly sqlState: string;

  constructor(message: string, sqlState = SQLSTATE_PROTOCOL_VIOLATION, context: ErrorContext = {}) {
    super("PS_ERR_PG_PROTOCOL", message, context);
    this.sqlState = sqlState;
  }
}

/**
 * A simple-query command of the page service does not parse (unknown command, wrong number of
 * arguments, bad id or LSN). The connection stays usable: answer ErrorResponse + ReadyForQuery.
 */
export class PageServiceCommandError extends PageserverError {
  readonly sqlState = SQLSTATE_SYNTAX_ERROR;

  constructor(message: string, context: ErrorContext = {}) {
    super("PS_ERR_PG_COMMAND", message, context);
  }
}

// ---------------------------------------------------------------------------------------------
// Frontend messages
// ---------------------------------------------------------------------------------------------

/** Extended-query (and function call) messages: framed, not interpreted; we answer an error. */
export type PgExtendedQueryMessageType =
  | "Parse"
  | "Bind"
  | "Execute"
  | "Describe"
  | "Flush"
  | "Close"
  | "FunctionCall";

export interface PgStartupMessage {
  readonly type: "StartupMessage";
  readonly protocolMajor: number;
  readonly protocolMinor: number;
  /** user, database, options, application_name, ...; a key given twice keeps its last value. */
  readonly parameters: Readonly<Record<string, string>>;
}

export interface PgCancelRequest {
  readonly type: "CancelRequest";
  readonly processId: number;
  readonly secretKey: number;
}

export type PgFrontendMessage =
  | PgStartupMessage
  | { readonly type: "SSLRequest" }
  | { readonly type: "GSSENCRequest" }
  | PgCancelRequest
  | { readonly type: "PasswordMessage"; readonly password: string }
  | { readonly type: "Query"; readonly query: string }
  /** `data` is a view into a socket chunk when the message did not straddle chunks. */
  | { readonly type: "CopyData"; readonly data: Buffer }
  | { readonly type: "CopyDone" }
  | { readonly type: "CopyFail"; readonly message: string }
  | { readonly type: "Terminate" }
  | { readonly type: "Sync" }
  | { readonly type: PgExtendedQueryMessageType; readonly body: Buffer };

export type PgFramePhase = "startup" | "typed";

export interface PgFrameReaderOptions {
  /** `typed` skips the startup phase (tests, or a connection handed over after startup). */
  readonly phase?: PgFramePhase;
  /** Overrides `PG_MESSAGE_LENGTH_MAX`. */
  readonly messageLengthMax?: number;
}

const SSL_REQUEST: PgFrontendMessage = Object.freeze({ type: "SSLRequest" });
const GSSENC_REQUEST: PgFrontendMessage = Object.freeze({ type: "GSSENCRequest" });
const COPY_DONE: PgFrontendMessage = Object.freeze({ type: "CopyDone" });
const TERMINATE: PgFrontendMessage = Object.freeze({ type: "Terminate" });
const SYNC: PgFrontendMessage = Object.freeze({ type: "Sync" });

const EXTENDED_QUERY_TYPES: ReadonlyMap<number, PgExtendedQueryMessageType> = new Map([
  [0x50, "Parse"], // 'P'
  [0x42, "Bind"], // 'B'
  [0x45, "Execute"], // 'E'
  [0x44, "Describe"], // 'D'
  [0x48, "Flush"], // 'H'
  [0x43, "Close"], // 'C'
  [0x46, "FunctionCall"], // 'F'
]);

/** Incremental framer of frontend messages; see the module comment for its invariants. */
export class PgFrameReader {
  /** Unconsumed chunks start at `#head`; slots before it are released (empty). */
  readonly #chunks: Buffer[] = [];
  #head = 0;
  /** Read position inside `#chunks[#head]`. */
  #offset = 0;
  #buffered = 0;
  #phase: PgFramePhase;
  #failure: PgProtocolError | null = null;
  readonly #messageLengthMax: number;
  /** Holds a header that straddles chunks while it is peeked at. */
  readonly #scratch = Buffer.alloc(8);
  /** Where the bytes returned by the last `#peek` start (saves an object per message). */
  #peekOffset = 0;

  constructor(options: PgFrameReaderOptions = {}) {
    this.#phase = options.phase ?? "startup";
    this.#messageLengthMax = options.messageLengthMax ?? PG_MESSAGE_LENGTH_MAX;
    assert(Number.isSafeInteger(this.#messageLengthMax), "messageLengthMax must be an integer");
    assert(this.#messageLengthMax >= 4, "messageLengthMax must admit an empty message");
  }

  get phase(): PgFramePhase {
    return this.#phase;
  }

  /** Bytes pushed but not yet handed out as messages. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** The next complete message, or null until more bytes arrive. Throws `PgProtocolError`. */
  next(): PgFrontendMessage | null {
    if (this.#failure !== null) throw this.#failure;
    return this.#phase === "typed" ? this.#nextTyped() : this.#nextStartup();
  }

  #nextTyped(): PgFrontendMessage | null {
    if (this.#buffered < TYPED_HEADER_BYTES) return null;
    const header = this.#peek(TYPED_HEADER_BYTES);
    const at = this.#peekOffset;
    const type = header[at]!;
    const length = header.readInt32BE(at + 1);
    if (length < 4) {
      throw this.#fail(`invalid length ${length} of message type ${describeType(type)}`);
    }
    if (length > this.#messageLengthMax) {
      throw this.#fail(
        `message type ${describeType(type)} of ${length} bytes exceeds the limit of ` +
          `${this.#messageLengthMax} bytes`,
      );
    }
    if (this.#buffered < length + 1) return null;
    if (header !== this.#scratch && header.length - at > length) {
      // The whole message is in the first chunk: one view, one skip.
      this.#skip(length + 1);
      return this.#checked(decodeTypedMessage(type, header.subarray(at + 5, at + 1 + length)));
    }
    this.#skip(TYPED_HEADER_BYTES);
    return this.#checked(decodeTypedMessage(type, this.#take(length - 4)));
  }

  #nextStartup(): PgFrontendMessage | null {
    if (this.#buffered < 4) return null;
    const length = this.#peek(4).readInt32BE(this.#peekOffset);
    if (length < 8 || length > PG_STARTUP_MESSAGE_LENGTH_MAX) {
      throw this.#fail(
        `invalid startup message length ${length}: expected 8..${PG_STARTUP_MESSAGE_LENGTH_MAX}`,
      );
    }
    if (this.#buffered < length) return null;
    this.#skip(4);
    const message = this.#checked(decodeStartupMessage(this.#take(length - 4)));
    if (message.type === "StartupMessage") this.#phase = "typed";
    return message;
  }

  #fail(message: string): PgProtocolError {
    this.#failure = new PgProtocolError(message);
    return this.#failure;
  }

  /** A decoder's verdict: the message, or the error that now fails the reader for good. */
  #checked(decoded: PgFrontendMessage | PgProtocolError): PgFrontendMessage {
    if (!(decoded instanceof PgProtocolError)) return decoded;
    this.#failure = decoded;
    throw decoded;
  }

  /**
   * The buffer holding the first `length` buffered bytes, starting at `#peekOffset`: the first
   * chunk itself when it holds them all (the common case), else `#scratch` with a copy.
   */
  #peek(length: number): Buffer {
    assert(length <= this.#scratch.length && length <= this.#buffered, "peek out of range");
    const first = this.#chunks[this.#head]!;
    if (first.length - this.#offset >= length) {
      this.#peekOffset = this.#offset;
      return first;
    }
    this.#copyOut(this.#scratch, length);
    this.#peekOffset = 0;
    return this.#scratch;
  }

  /** The next `length` bytes, consumed: a view when one chunk holds them, else one copy. */
  #take(length: number): Buffer {
    if (length === 0) return EMPTY_BUFFER;
    const first = this.#chunks[this.#head]!;
    const start = this.#offset;
    if (first.length - start >= length) {
      this.#skip(length);
      return first.subarray(start, start + length);
    }
    // Straddles chunks: copy once. allocUnsafe is fine, every byte is overwritten below.
    const joined = Buffer.allocUnsafe(length);
    this.#copyOut(joined, length);
    this.#skip(length);
    return joined;
  }

  /** Copies the first `length` buffered bytes into `target` without consuming them. */
  #copyOut(target: Buffer, length: number): void {
    let copied = 0;
    let index = this.#head;
    let offset = this.#offset;
    while (copied < length) {
      const chunk = this.#chunks[index]!;
      const end = Math.min(chunk.length, offset + (length - copied));
      copied += chunk.copy(target, copied, offset, end);
      index++;
      offset = 0;
    }
  }

  /** Consumes `length` bytes, releasing the chunks that are used up. */
  #skip(length: number): void {
    assert(length <= this.#buffered, "skip past the buffered bytes");
    this.#buffered -= length;
    let offset = this.#offset + length;
    while (this.#head < this.#chunks.length) {
      const chunk = this.#chunks[this.#head]!;
      if (offset < chunk.length) break;
      offset -= chunk.length;
      this.#chunks[this.#head] = EMPTY_BUFFER;
      this.#head++;
    }
    this.#offset = offset;
    if (this.#head === this.#chunks.length) {
      assert(this.#buffered === 0 && offset === 0, "chunk list and byte count disagree");
      this.#chunks.length = 0;
      this.#head = 0;
    } else if (this.#head >= CHUNK_SLOTS_COMPACT_MIN) {
      this.#chunks.splice(0, this.#head);
      this.#head = 0;
    }
  }
}

function describeType(type: number): string {
  const printable = type >= 0x20 && type < 0x7f;
  return printable ? `'${String.fromCharCode(type)}'` : `0x${type.toString(16).padStart(2, "0")}`;
}

/** Decodes a typed message's body, or says why it is malformed. */
function decodeTypedMessage(type: number, body: Buffer): PgFrontendMessage | PgProtocolError {
  switch (type) {
    case 0x64: // 'd'
      return { type: "CopyData", data: body };
    case 0x51: {
      // 'Q'
      const query = readWholeCString(body);
      return query === null ? notOneCString("Query") : { type: "Query", query };
    }
    case 0x70: {
      // 'p'
      const password = readWholeCString(body);
      return password === null
        ? notOneCString("PasswordMessage")
        : { type: "PasswordMessage", password };
    }
    case 0x66: {
      // 'f'
      const message = readWholeCString(body);
      return message === null ? notOneCString("CopyFail") : { type: "CopyFail", message };
    }
    case 0x63: // 'c'
      return body.length === 0 ? COPY_DONE : notEmpty("CopyDone", body);
    case 0x58: // 'X'
      return body.length === 0 ? TERMINATE : notEmpty("Terminate", body);
    case 0x53: // 'S'
      return body.length === 0 ? SYNC : notEmpty("Sync", body);
    default: {
      const extended = EXTENDED_QUERY_TYPES.get(type);
      if (extended !== undefined) return { type: extended, body };
      return new PgProtocolError(`unexpected frontend message type ${describeType(type)}`);
    }
  }
}

/** The body of Query, PasswordMessage and CopyFail: one string and its NUL, nothing else. */
function readWholeCString(body: Buffer): string | null {
  if (body.length === 0 || body.indexOf(0) !== body.length - 1) return null;
  return body.toString("utf8", 0, body.length - 1);
}

function notOneCString(name: string): PgProtocolError {
  return new PgProtocolError(`${name} message is not one NUL-terminated string`);
}

function notEmpty(name: string, body: Buffer): PgProtocolError {
  return new PgProtocolError(`${name} message must be empty, it has ${body.length} bytes`);
}

function decodeStartupMessage(body: Buffer): PgFrontendMessage | PgProtocolError {
  const code = body.readInt32BE(0);
  const length = body.length + 4;
  switch (code) {
    case PG_SSL_REQUEST_CODE:
      return length === 8 ? SSL_REQUEST : startupLengthError("SSLRequest", length, 8);
    case PG_GSSENC_REQUEST_CODE:
      return length === 8 ? GSSENC_REQUEST : startupLengthError("GSSENCRequest", length, 8);
    case PG_CANCEL_REQUEST_CODE:
      if (length !== 16) return startupLengthError("CancelRequest", length, 16);
      return {
        type: "CancelRequest",
        processId: body.readInt32BE(4),
        secretKey: body.readInt32BE(8),
      };
    default:
      return decodeProtocolStartup(code, body);
  }
}

function startupLengthError(name: string, length: number, expected: number): PgProtocolError {
  return new PgProtocolError(`${name} must be ${expected} bytes, got ${length}`);
}

function decodeProtocolStartup(code: number, body: Buffer): PgStartupMessage | PgProtocolError {
  const protocolMajor = code >>> 16;
  const protocolMinor = code & 0xffff;
  if (protocolMajor !== 3) {
    return new PgProtocolError(
      `unsupported frontend protocol ${protocolMajor}.${protocolMinor}: server supports 3.0`,
      SQLSTATE_FEATURE_NOT_SUPPORTED,
    );
  }
  const parameters = decodeStartupParameters(body, 4);
  if (parameters instanceof PgProtocolError) return parameters;
  return { type: "StartupMessage", protocolMajor, protocolMinor, parameters };
}

/** `name\0value\0 ... \0`: the list ends with an empty name, which must be the last byte. */
function decodeStartupParameters(
  body: Buffer,
  start: number,
): Record<string, string> | PgProtocolError {
  const parameters: Record<string, string> = Object.create(null);
  let position = start;
  while (position < body.length) {
    const nameEnd = body.indexOf(0, position);
    if (nameEnd === -1) break;
    if (nameEnd === position) {
      if (nameEnd === body.length - 1) return parameters;
      return new PgProtocolError("invalid startup message: bytes after the terminator");
    }
    const valueEnd = body.indexOf(0, nameEnd + 1);
    if (valueEnd === -1) break;
    const name = body.toString("utf8", position, nameEnd);
    parameters[name] = body.toString("utf8", nameEnd + 1, valueEnd);
    position = valueEnd + 1;
  }
  return new PgProtocolError("invalid startup message: parameters are not NUL-terminated");
}

// ---------------------------------------------------------------------------------------------
// Backend message encoders
// ---------------------------------------------------------------------------------------------

/** Allocates `type, Int32 length` plus `bodyLength` bytes; the caller fills the body. */
function allocateMessage(type: number, bodyLength: number): Buffer {
  assert(bodyLength >= 0 && bodyLength <= COPY_DATA_PAYLOAD_BYTES_MAX, "message body too long");
  const message = Buffer.allocUnsafe(TYPED_HEADER_BYTES + bodyLength);
  message[0] = type;
  message.writeInt32BE(bodyLength + 4, 1);
  return message;
}

function cstringLength(text: string): number {
  return Buffer.byteLength(text, "utf8") + 1;
}

function writeCString(target: Buffer, offset: number, text: string): number {
  const written = target.write(text, offset, "utf8");
  target[offset + written] = 0;
  return offset + written + 1;
}

/** Our own names and values (parameters, command tags) never carry NUL: that is a bug. */
function assertNoNul(text: string, what: string): void {
  assert(!text.includes("\0"), `${what} contains a NUL byte`);
}

/** Text from errors may quote client input: a NUL would cut the C string short, so escape it. */
function withoutNul(text: string): string {
  return text.includes("\0") ? text.replaceAll("\0", "\\0") : text;
}

/** The single byte answering SSLRequest and GSSENCRequest: 'N', continue unencrypted. */
export function encodeEncryptionRefused(): Buffer {
  return Buffer.from([0x4e]);
}

export function encodeAuthenticationOk(): Buffer {
  const message = allocateMessage(0x52, 4); // 'R'
  message.writeInt32BE(0, 5);
  return message;
}

export function encodeAuthenticationCleartextPassword(): Buffer {
  const message = allocateMessage(0x52, 4); // 'R'
  message.writeInt32BE(3, 5);
  return message;
}

export function encodeParameterStatus(name: string, value: string): Buffer {
  assertNoNul(name, "parameter name");
  assertNoNul(value, "parameter value");
  const message = allocateMessage(0x53, cstringLength(name) + cstringLength(value)); // 'S'
  writeCString(message, writeCString(message, 5, name), value);
  return message;
}

export function encodeBackendKeyData(processId: number, secretKey: number): Buffer {
  const message = allocateMessage(0x4b, 8); // 'K'
  message.writeInt32BE(processId | 0, 5);
  message.writeInt32BE(secretKey | 0, 9);
  return message;
}

/** `I` idle, `T` in a transaction, `E` in a failed transaction. */
export type PgTransactionStatus = "I" | "T" | "E";

export function encodeReadyForQuery(status: PgTransactionStatus = "I"): Buffer {
  const message = allocateMessage(0x5a, 1); // 'Z'
  message[5] = status.charCodeAt(0);
  return message;
}

/** RowDescription of text columns (type oid 25, variable length, text format). */
export function encodeRowDescription(columnNames: readonly string[]): Buffer {
  assert(columnNames.length <= 0x7fff, "too many columns");
  let bodyLength = 2;
  for (const name of columnNames) {
    assertNoNul(name, "column name");
    bodyLength += cstringLength(name) + 18;
  }
  const message = allocateMessage(0x54, bodyLength); // 'T'
  let offset = message.writeInt16BE(columnNames.length, 5);
  for (const name of columnNames) {
    offset = writeCString(message, offset, name);
    offset = message.writeInt32BE(0, offset); // table oid
    offset = message.writeInt16BE(0, offset); // column attribute number
    offset = message.writeInt32BE(PG_TEXT_TYPE_OID, offset);
    offset = message.writeInt16BE(-1, offset); // type length: variable
    offset = message.writeInt32BE(-1, offset); // type modifier: none
    offset = message.writeInt16BE(0, offset); // format: text
  }
  assert(offset === message.length, "RowDescription length mismatch");
  return message;
}

/** DataRow of text values; null is SQL NULL (length -1). */
export function encodeDataRow(values: readonly (string | null)[]): Buffer {
  assert(values.length <= 0x7fff, "too many columns");
  let bodyLength = 2;
  for (const value of values) bodyLength += 4 + (value === null ? 0 : Buffer.byteLength(value));
  const message = allocateMessage(0x44, bodyLength); // 'D'
  let offset = message.writeInt16BE(values.length, 5);
  for (const value of values) {
    if (value === null) {
      offset = message.writeInt32BE(-1, offset);
      continue;
    }
    const written = message.write(value, offset + 4, "utf8");
    message.writeInt32BE(written, offset);
    offset += 4 + written;
  }
  assert(offset === message.length, "DataRow length mismatch");
  return message;
}

/** CommandComplete with its tag, e.g. `SELECT 1`. */
export function encodeCommandComplete(tag: string): Buffer {
  assertNoNul(tag, "command tag");
  const message = allocateMessage(0x43, cstringLength(tag)); // 'C'
  writeCString(message, 5, tag);
  return message;
}

export function encodeEmptyQueryResponse(): Buffer {
  return allocateMessage(0x49, 0); // 'I'
}

export type PgErrorSeverity =
  | "ERROR"
  | "FATAL"
  | "PANIC"
  | "WARNING"
  | "NOTICE"
  | "DEBUG"
  | "INFO"
  | "LOG";

export interface PgErrorFields {
  readonly severity: PgErrorSeverity;
  /** Five characters of [0-9A-Z], e.g. `08P01`, `XX000`. */
  readonly sqlState: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
}

/** ErrorResponse: fields S, V (severity, localized and not), C, M, optional D and H. */
export function encodeErrorResponse(fields: PgErrorFields): Buffer {
  return encodeNoticeOrError(0x45, fields); // 'E'
}

/** NoticeResponse: the same fields as ErrorResponse. */
export function encodeNoticeResponse(fields: PgErrorFields): Buffer {
  return encodeNoticeOrError(0x4e, fields); // 'N'
}

function encodeNoticeOrError(type: number, fields: PgErrorFields): Buffer {
  assert(/^[0-9A-Z]{5}$/.test(fields.sqlState), `invalid SQLSTATE '${fields.sqlState}'`);
  const entries: [number, string][] = [
    [0x53, fields.severity], // 'S'
    [0x56, fields.severity], // 'V'
    [0x43, fields.sqlState], // 'C'
    [0x4d, withoutNul(fields.message)], // 'M'
  ];
  if (fields.detail !== undefined) entries.push([0x44, withoutNul(fields.detail)]); // 'D'
  if (fields.hint !== undefined) entries.push([0x48, withoutNul(fields.hint)]); // 'H'
  let bodyLength = 1;
  for (const [, text] of entries) bodyLength += 1 + cstringLength(text);
  const message = allocateMessage(type, bodyLength);
  let offset = 5;
  for (const [code, text] of entries) {
    message[offset] = code;
    offset = writeCString(message, offset + 1, text);
  }
  message[offset] = 0;
  assert(offset + 1 === message.length, "ErrorResponse length mismatch");
  return message;
}

/** CopyBothResponse: overall format 0 (text), 0 columns, as Neon sends it. */
export function encodeCopyBothResponse(): Buffer {
  return encodeCopyResponse(0x57); // 'W'
}

/** CopyOutResponse: overall format 0, 0 columns (basebackup streams a tar in CopyData). */
export function encodeCopyOutResponse(): Buffer {
  return encodeCopyResponse(0x48); // 'H'
}

function encodeCopyResponse(type: number): Buffer {
  const message = allocateMessage(type, 3);
  message[5] = 0;
  message.writeInt16BE(0, 6);
  return message;
}

/**
 * Writes a CopyData header for a payload of `payloadLength` bytes at `offset`; returns the
 * offset where the payload goes. Lets an encoder frame its payload in the same buffer.
 */
export function writeCopyDataHeader(target: Buffer, offset: number, payloadLength: number): number {
  assert(Number.isInteger(payloadLength), "CopyData payload length must be an integer");
  assert(payloadLength >= 0 && payloadLength <= COPY_DATA_PAYLOAD_BYTES_MAX, "CopyData too long");
  target[offset] = 0x64; // 'd'
  target.writeInt32BE(payloadLength + 4, offset + 1);
  return offset + COPY_DATA_HEADER_BYTES;
}

/** The 5-byte CopyData header alone, for `cork(); write(header); write(payload); uncork()`. */
export function encodeCopyDataHeader(payloadLength: number): Buffer {
  const header = Buffer.allocUnsafe(COPY_DATA_HEADER_BYTES);
  writeCopyDataHeader(header, 0, payloadLength);
  return header;
}

/** A whole CopyData message: header and a copy of the payload in one buffer. */
export function encodeCopyData(payload: Uint8Array): Buffer {
  const message = Buffer.allocUnsafe(COPY_DATA_HEADER_BYTES + payload.length);
  writeCopyDataHeader(message, 0, payload.length);
  message.set(payload, COPY_DATA_HEADER_BYTES);
  return message;
}

export function encodeCopyDone(): Buffer {
  return allocateMessage(0x63, 0); // 'c'
}

/**
 * NegotiateProtocolVersion ('v'): the newest minor version of protocol 3 we speak and the
 * `_pq_.` startup options we did not recognize. Sent when a client asks for 3.x, x > 0.
 */
export function encodeNegotiateProtocolVersion(
  newestMinor: number,
  unrecognizedOptions: readonly string[],
): Buffer {
  let bodyLength = 8;
  for (const option of unrecognizedOptions) {
    assertNoNul(option, "protocol option");
    bodyLength += cstringLength(option);
  }
  const message = allocateMessage(0x76, bodyLength); // 'v'
  message.writeInt32BE(newestMinor, 5);
  let offset = message.writeInt32BE(unrecognizedOptions.length, 9);
  for (const option of unrecognizedOptions) offset = writeCString(message, offset, option);
  return message;
}

// ---------------------------------------------------------------------------------------------
// Page service commands (simple query)
// ---------------------------------------------------------------------------------------------

export type PageServiceCommand =
  /** An empty query string: answer EmptyQueryResponse. */
  | { readonly kind: "Empty" }
  | {
      readonly kind: "PageStream";
      readonly protocolVersion: 2 | 3;
      readonly tenantId: TenantId;
      readonly timelineId: TimelineId;
    }
  | {
      readonly kind: "BaseBackup";
      readonly tenantId: TenantId;
      readonly timelineId: TimelineId;
      /** null: the latest LSN (`latest` or no LSN given). */
      readonly lsn: Lsn | null;
      readonly gzip: boolean;
      readonly replica: boolean;
    }
  | {
      readonly kind: "FullBackup";
      readonly tenantId: TenantId;
      readonly timelineId: TimelineId;
      readonly lsn: Lsn | null;
      readonly prevLsn: Lsn | null;
    }
  | {
      readonly kind: "LeaseLsn";
      readonly tenantShardId: TenantShardId;
      readonly timelineId: TimelineId;
      readonly lsn: Lsn;
    }
  /** `set ...` (psycopg2 sends `SET datestyle TO 'ISO'`): acknowledged, otherwise ignored. */
  | { readonly kind: "Set"; readonly text: string };

/** Parses one simple-query string; every failure is a `PageServiceCommandError`. */
export function parsePageServiceCommand(query: string): PageServiceCommand {
  const words = query.trim().split(/\s+/);
  const command = words[0]!.toLowerCase();
  const args = words.slice(1);
  switch (command) {
    case "":
      return { kind: "Empty" };
    case "pagestream_v2":
      return parsePageStreamCommand(command, args, 2);
    case "pagestream_v3":
      return parsePageStreamCommand(command, args, 3);
    case "basebackup":
      return parseBaseBackupCommand(args);
    case "fullbackup":
      return parseFullBackupCommand(args);
    case "lease":
      return parseLeaseCommand(args);
    case "set":
      return { kind: "Set", text: query.trim() };
    default:
      throw new PageServiceCommandError(`unsupported command '${clip(words[0]!)}'`);
  }
}

function parsePageStreamCommand(
  command: string,
  args: readonly string[],
  protocolVersion: 2 | 3,
): PageServiceCommand {
  expectArgumentCount(command, args, 2, 2, "<tenant_id> <timeline_id>");
  return {
    kind: "PageStream",
    protocolVersion,
    tenantId: parseArgument(parseTenantId, args[0]!),
    timelineId: parseArgument(parseTimelineId, args[1]!),
  };
}

/** `basebackup <tenant> <timeline> [<lsn>|latest] [--gzip] [--replica]`, as Neon parses it. */
function parseBaseBackupCommand(args: readonly string[]): PageServiceCommand {
  const usage = "<tenant_id> <timeline_id> [<lsn>|latest] [--gzip] [--replica]";
  expectArgumentCount("basebackup", args, 2, Number.POSITIVE_INFINITY, usage);
  const tenantId = parseArgument(parseTenantId, args[0]!);
  const timelineId = parseArgument(parseTimelineId, args[1]!);
  const third = args[2];
  let lsn: Lsn | null = null;
  let flagsStart = 2;
  if (third !== undefined && !third.startsWith("--")) {
    if (third !== "latest") lsn = parseArgument(parseLsn, third);
    flagsStart = 3;
  }
  let gzip = false;
  let replica = false;
  for (const flag of args.slice(flagsStart)) {
    if (flag === "--gzip" && !gzip) gzip = true;
    else if (flag === "--replica" && !replica) replica = true;
    else if (flag === "--gzip" || flag === "--replica") {
      throw new PageServiceCommandError(`duplicate parameter for basebackup command: ${flag}`);
    } else {
      throw new PageServiceCommandError(`invalid parameter for basebackup command: ${clip(flag)}`);
    }
  }
  return { kind: "BaseBackup", tenantId, timelineId, lsn, gzip, replica };
}

/** `fullbackup <tenant> <timeline> [<lsn> [<prev_lsn>]]`. */
function parseFullBackupCommand(args: readonly string[]): PageServiceCommand {
  expectArgumentCount("fullbackup", args, 2, 4, "<tenant_id> <timeline_id> [<lsn> [<prev_lsn>]]");
  return {
    kind: "FullBackup",
    tenantId: parseArgument(parseTenantId, args[0]!),
    timelineId: parseArgument(parseTimelineId, args[1]!),
    lsn: args[2] === undefined ? null : parseArgument(parseLsn, args[2]),
    prevLsn: args[3] === undefined ? null : parseArgument(parseLsn, args[3]),
  };
}

/** `lease lsn <tenant_shard_id> <timeline> <lsn>`. */
function parseLeaseCommand(args: readonly string[]): PageServiceCommand {
  if (args[0]?.toLowerCase() !== "lsn") {
    throw new PageServiceCommandError(
      `invalid lease command: expected 'lease lsn', got 'lease ${clip(args[0] ?? "")}'`,
    );
  }
  const rest = args.slice(1);
  expectArgumentCount("lease lsn", rest, 3, 3, "<tenant_shard_id> <timeline_id> <lsn>");
  return {
    kind: "LeaseLsn",
    tenantShardId: parseArgument(parseTenantShardId, rest[0]!),
    timelineId: parseArgument(parseTimelineId, rest[1]!),
    lsn: parseArgument(parseLsn, rest[2]!),
  };
}

function expectArgumentCount(
  command: string,
  args: readonly string[],
  min: number,
  max: number,
  usage: string,
): void {
  if (args.length >= min && args.length <= max) return;
  throw new PageServiceCommandError(
    `invalid number of arguments for ${command}: expected ${command} ${usage}, ` +
      `got ${args.length} argument${args.length === 1 ? "" : "s"}`,
  );
}

/** Runs one of the engine's text parsers, turning its InvalidArgumentError into ours. */
function parseArgument<T>(parse: (text: string) => T, text: string): T {
  try {
    return parse(text);
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw new PageServiceCommandError(error.message);
    throw error;
  }
}

/** Keeps client text quoted in error messages short. */
function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}...` : text;
}
