/**
 * A PostgreSQL wire-protocol client for the page service (reference §10), written for pipelining:
 * what `pagectl get-page`, `pagebench` and tests use to talk to a pageserver as a compute does.
 *
 *     connect ──startup (trust | JWT as cleartext password)──▶ ready
 *     ready ──simpleQuery──▶ ready
 *     ready ──pagestream_v3 <tenant> <timeline>──▶ streaming ──end() (CopyDone)──▶ ready
 *     any ──close() (Terminate)──▶ closed
 *
 * # Pipelining
 * `Pagestream.request` writes the request at once and returns a promise; responses arrive in
 * request order (the protocol has no other matching), so pending requests form a FIFO and each
 * response settles the oldest one, after its v3 echo (reqid, LSNs, request body) was checked
 * against the bytes sent. Writes made in one tick are corked into one `write` syscall. The caller
 * bounds how many requests are in flight (its queue depth); `inFlight` tells how many are.
 *
 * # Framing
 * Backend messages are parsed straight out of socket chunks: a message that lies inside one chunk
 * is handed over as a view; only a message that straddles chunks is assembled, into a buffer of
 * exactly its size. So a GetPage response (8,239 bytes framed) is copied at most once.
 *
 * # Failure
 * An ErrorResponse while streaming, a response that does not match its request, or the socket
 * closing fails every pending request and the stream: after any of them, responses can no longer
 * be matched to requests. A pagestream Error response (tag 103) only fails its own request.
 *
 * Hand-written rather than on `pg-protocol`: the frontend side needs six message kinds, and owning
 * the framing is what keeps the benchmark client from copying every page twice.
 */
import { connect as netConnect, type Socket } from "node:net";
import { type Lsn, lsnHigh, lsnLow, PageserverError, type RelTag } from "@pageserver/engine";
import {
  encodePagestreamRequest,
  type PagestreamProtocolVersion,
  type PagestreamRequest,
} from "../page_service/pagestream_codec.ts";
import {
  decodePagestreamResponse,
  type PagestreamResponse,
  PagestreamResponseError,
} from "./pagestream_client_codec.ts";

const PROTOCOL_VERSION_3_0 = 196_608;
const MESSAGE_HEADER_BYTES = 5;
/** A backend message longer than this is a broken stream, not a message (an SLRU segment is 256 KiB). */
const BACKEND_MESSAGE_BYTES_MAX = 64 * 1024 * 1024;
const CONNECT_TIMEOUT_MS_DEFAULT = 10_000;
const TWO_POW_32 = 0x1_0000_0000;

export interface PageServiceConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly user?: string;
  readonly database?: string;
  /** Sent when the server asks for a cleartext password: a JWT on a NeonJWT pageserver. */
  readonly password?: string;
  /** The startup `options` parameter, e.g. `-c neon.compute_mode=primary`. */
  readonly options?: string;
  readonly connectTimeoutMs?: number;
}

/** The connection failed, was refused, or the server reported an error outside a pagestream. */
export class PageServiceClientError extends PageserverError {
  /** The server's SQLSTATE when the error came from an ErrorResponse. */
  readonly sqlState: string | null;

  constructor(message: string, sqlState: string | null = null) {
    super("PS_ERR_PAGE_SERVICE_CLIENT", message);
    this.sqlState = sqlState;
  }
}

/** A pagestream Error response (tag 103): the server could not serve this one request. */
export class PagestreamRequestError extends PageserverError {
  constructor(message: string) {
    super("PS_ERR_PAGESTREAM_REQUEST", message);
  }
}

/** `postgres://user:password@host:port/database?options=...` into connect options. */
export function parseConnectionString(connstring: string): PageServiceConnectOptions {
  let url: URL;
  try {
    url = new URL(connstring);
  } catch {
    throw new PageServiceClientError(`invalid connection string '${connstring}'`);
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new PageServiceClientError(
      `connection string must start with postgres://, got '${connstring}'`,
    );
  }
  const options: Record<string, string | number> = {
    host: url.hostname.replace(/^\[|\]$/g, "") || "localhost",
    port: url.port === "" ? 5432 : Number(url.port),
  };
  if (url.username) options.user = decodeURIComponent(url.username);
  if (url.password) options.password = decodeURIComponent(url.password);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (database) options.database = database;
  const startupOptions = url.searchParams.get("options");
  if (startupOptions) options.options = startupOptions;
  return options as unknown as PageServiceConnectOptions;
}

interface ErrorFields {
  readonly severity: string;
  readonly sqlState: string;
  readonly message: string;
}

function parseErrorFields(body: Buffer): ErrorFields {
  const fields = new Map<string, string>();
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const code = String.fromCharCode(body[at]!);
    const end = body.indexOf(0, at + 1);
    if (end < 0) break;
    fields.set(code, body.toString("utf8", at + 1, end));
    at = end + 1;
  }
  return {
    severity: fields.get("S") ?? "ERROR",
    sqlState: fields.get("C") ?? "XX000",
    message: fields.get("M") ?? "unknown error",
  };
}

/** Frames backend messages out of socket chunks; see "Framing" in the module comment. */
class BackendMessageReader {
  /** Leftover bytes (< one header) from the previous chunk. */
  private head: Buffer | null = null;
  /** A message straddling chunks, being assembled, and how much of it is filled. */
  private pending: Buffer | null = null;
  private pendingFilled = 0;

  constructor(private readonly onMessage: (type: number, body: Buffer) => void) {}

  push(chunk: Buffer): void {
    if (this.head) {
      chunk = Buffer.concat([this.head, chunk]);
      this.head = null;
    }
    let at = 0;
    if (this.pending) {
      const take = Math.min(this.pending.length - this.pendingFilled, chunk.length);
      chunk.copy(this.pending, this.pendingFilled, 0, take);
      this.pendingFilled += take;
      at = take;
      if (this.pendingFilled < this.pending.length) return;
      const message = this.pending;
      this.pending = null;
      this.onMessage(message[0]!, message.subarray(MESSAGE_HEADER_BYTES));
    }
    while (chunk.length - at >= MESSAGE_HEADER_BYTES) {
      const length = chunk.readUInt32BE(at + 1);
      if (length < 4 || length > BACKEND_MESSAGE_BYTES_MAX) {
        throw new PageServiceClientError(`bad backend message length ${length}`);
      }
      const end = at + 1 + length;
      if (end > chunk.length) {
        this.pending = Buffer.allocUnsafe(1 + length);
        this.pendingFilled = chunk.copy(this.pending, 0, at);
        return;
      }
      this.onMessage(chunk[at]!, chunk.subarray(at + MESSAGE_HEADER_BYTES, end));
      at = end;
    }
    if (at < chunk.length) this.head = Buffer.from(chunk.subarray(at));
  }
}

function message(type: number, body: Buffer | null): Buffer {
  const length = body?.length ?? 0;
  const out = Buffer.allocUnsafe(MESSAGE_HEADER_BYTES + length);
  out[0] = type;
  out.writeUInt32BE(4 + length, 1);
  body?.copy(out, MESSAGE_HEADER_BYTES);
  return out;
}

function cstrings(...texts: string[]): Buffer {
  return Buffer.from(texts.map((text) => `${text}\0`).join(""), "utf8");
}

export interface QueryResult {
  readonly columns: string[];
  readonly rows: Array<Array<string | null>>;
  readonly commandTag: string;
}

type Phase = "startup" | "ready" | "query" | "copy-starting" | "streaming" | "ending" | "closed";

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

export class PageServiceClient {
  private readonly socket: Socket;
  private readonly reader: BackendMessageReader;
  private readonly options: PageServiceConnectOptions;
  private phase: Phase = "startup";
  private failure: Error | null = null;
  /** The operation waiting for ReadyForQuery (startup, a query, a stream's start or end). */
  private waiter: Waiter<void> | null = null;
  private query: { columns: string[]; rows: Array<Array<string | null>>; tag: string } | null =
    null;
  private error: ErrorFields | null = null;
  private stream: Pagestream | null = null;
  private corked = false;
  readonly parameters = new Map<string, string>();
  readonly closed: Promise<void>;

  private constructor(socket: Socket, options: PageServiceConnectOptions) {
    this.socket = socket;
    this.options = options;
    this.reader = new BackendMessageReader((type, body) => this.onMessage(type, body));
    socket.setNoDelay(true);
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk: Buffer) => {
      try {
        this.reader.push(chunk);
      } catch (error) {
        this.fail(error as Error);
      }
    });
    socket.on("error", (error) => this.fail(this.connectionError(error)));
    socket.on("close", () =>
      this.fail(new PageServiceClientError(`connection to ${this.address} closed`)),
    );
  }

  get address(): string {
    return `${this.options.host}:${this.options.port}`;
  }

  /** Connects and completes the startup; resolves once the server is ready for queries. */
  static async connect(target: PageServiceConnectOptions | string): Promise<PageServiceClient> {
    const options = typeof target === "string" ? parseConnectionString(target) : target;
    const socket = netConnect({ host: options.host, port: options.port });
    const timeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT;
    const client = new PageServiceClient(socket, options);
    const ready = client.expectReady();
    const timer = setTimeout(() => {
      client.fail(new PageServiceClientError(`connecting to ${client.address} timed out`));
      socket.destroy();
    }, timeoutMs);
    socket.once("connect", () => client.sendStartup());
    try {
      await ready;
    } catch (error) {
      socket.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  private connectionError(error: Error): PageServiceClientError {
    const code = (error as NodeJS.ErrnoException).code;
    return new PageServiceClientError(
      `connection to page service at ${this.address} failed: ${code ?? error.message}`,
    );
  }

  private sendStartup(): void {
    const parameters = ["user", this.options.user ?? "postgres"];
    if (this.options.database) parameters.push("database", this.options.database);
    if (this.options.options) parameters.push("options", this.options.options);
    const body = Buffer.concat([cstrings(...parameters), Buffer.from([0])]);
    const startup = Buffer.allocUnsafe(8 + body.length);
    startup.writeUInt32BE(startup.length, 0);
    startup.writeUInt32BE(PROTOCOL_VERSION_3_0, 4);
    body.copy(startup, 8);
    this.socket.write(startup);
  }

  private expectReady(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.failure) reject(this.failure);
      else this.waiter = { resolve, reject };
    });
  }

  /** Writes now or, within one tick, together with the other writes of the tick. */
  write(data: Buffer): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(data);
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.phase = "closed";
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(error);
    this.stream?.failAll(error);
    this.socket.destroy();
  }

  private checkUsable(wanted: Phase): void {
    if (this.failure) throw this.failure;
    if (this.phase !== wanted) {
      throw new PageServiceClientError(`page service client is ${this.phase}, not ${wanted}`);
    }
  }

  /** Runs a simple query (e.g. `lease lsn …`); text results. */
  async simpleQuery(sql: string): Promise<QueryResult> {
    this.checkUsable("ready");
    this.phase = "query";
    this.query = { columns: [], rows: [], tag: "" };
    const done = this.expectReady();
    this.write(message(0x51, cstrings(sql))); // 'Q'
    await done;
    const result = this.query!;
    this.query = null;
    return { columns: result.columns, rows: result.rows, commandTag: result.tag };
  }

  /** Switches to the pagestream sub-protocol for one timeline. */
  async pagestream(
    tenantId: string,
    timelineId: string,
    version: PagestreamProtocolVersion = 3,
  ): Promise<Pagestream> {
    this.checkUsable("ready");
    this.phase = "copy-starting";
    const started = this.expectReady();
    this.write(message(0x51, cstrings(`pagestream_v${version} ${tenantId} ${timelineId}`)));
    await started;
    this.stream = new Pagestream(this, version);
    return this.stream;
  }

  /** Called by Pagestream.end(): CopyDone, then wait for the server to be ready again. */
  async endStream(): Promise<void> {
    this.checkUsable("streaming");
    this.phase = "ending";
    const ended = this.expectReady();
    this.write(message(0x63, null)); // 'c' CopyDone
    await ended;
    this.stream = null;
  }

  /** Terminate and close the socket. */
  async close(): Promise<void> {
    if (!this.failure && !this.socket.destroyed) {
      this.socket.end(message(0x58, null)); // 'X' Terminate
      this.failure = new PageServiceClientError("page service client closed");
      this.stream?.failAll(this.failure);
    }
    await this.closed;
  }

  /** Drops the connection without a goodbye (as a compute shutting down does). */
  destroy(): void {
    this.fail(new PageServiceClientError("page service client destroyed"));
  }

  private onMessage(type: number, body: Buffer): void {
    switch (type) {
      case 0x64: // 'd' CopyData
        if (this.phase !== "streaming" && this.phase !== "ending") {
          throw new PageServiceClientError("CopyData outside a pagestream");
        }
        this.stream!.onResponse(body);
        return;
      case 0x52: // 'R' Authentication
        this.onAuthentication(body.readUInt32BE(0));
        return;
      case 0x53: {
        // 'S' ParameterStatus
        const nul = body.indexOf(0);
        const value = body.toString("utf8", nul + 1, body.length - 1);
        this.parameters.set(body.toString("utf8", 0, nul), value);
        return;
      }
      case 0x45: // 'E' ErrorResponse
        this.onError(parseErrorFields(body));
        return;
      case 0x57: // 'W' CopyBothResponse
        if (this.phase !== "copy-starting") throw new PageServiceClientError("unexpected W");
        this.phase = "streaming";
        this.settle();
        return;
      case 0x5a: // 'Z' ReadyForQuery
        this.onReadyForQuery();
        return;
      default:
        this.onQueryMessage(type, body);
    }
  }

  private onQueryMessage(type: number, body: Buffer): void {
    switch (type) {
      case 0x54: // 'T' RowDescription
        if (this.query) this.query.columns = parseRowDescription(body);
        return;
      case 0x44: // 'D' DataRow
        if (this.query) this.query.rows.push(parseDataRow(body));
        return;
      case 0x43: // 'C' CommandComplete
        if (this.query) this.query.tag = body.toString("utf8", 0, body.length - 1);
        return;
      case 0x4b: // 'K' BackendKeyData
      case 0x4e: // 'N' NoticeResponse
      case 0x49: // 'I' EmptyQueryResponse
      case 0x63: // 'c' CopyDone
        return;
      default:
        throw new PageServiceClientError(
          `unexpected backend message '${String.fromCharCode(type)}'`,
        );
    }
  }

  private onAuthentication(code: number): void {
    if (code === 0) return; // AuthenticationOk; ReadyForQuery follows.
    if (code === 3) {
      if (this.options.password === undefined) {
        throw new PageServiceClientError(
          `page service at ${this.address} asks for a password (a JWT): pass one`,
        );
      }
      this.write(message(0x70, cstrings(this.options.password))); // 'p'
      return;
    }
    throw new PageServiceClientError(`unsupported authentication method ${code}`);
  }

  private onError(fields: ErrorFields): void {
    const text = `${fields.severity}: ${fields.message} (SQLSTATE ${fields.sqlState})`;
    if (this.phase === "startup" || this.phase === "streaming" || this.phase === "ending") {
      // Fatal here: the connection is over, or the stream can no longer be matched.
      this.fail(
        new PageServiceClientError(`page service at ${this.address}: ${text}`, fields.sqlState),
      );
      return;
    }
    this.error = fields; // Reported when ReadyForQuery ends the query.
  }

  private onReadyForQuery(): void {
    const error = this.error;
    this.error = null;
    this.phase = "ready";
    const waiter = this.waiter;
    this.waiter = null;
    if (!error) {
      waiter?.resolve();
      return;
    }
    const text = `${error.severity}: ${error.message} (SQLSTATE ${error.sqlState})`;
    waiter?.reject(new PageServiceClientError(text, error.sqlState));
  }

  private settle(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.resolve();
  }
}

function parseRowDescription(body: Buffer): string[] {
  const count = body.readUInt16BE(0);
  const columns: string[] = [];
  let at = 2;
  for (let i = 0; i < count; i++) {
    const end = body.indexOf(0, at);
    columns.push(body.toString("utf8", at, end));
    at = end + 1 + 18;
  }
  return columns;
}

function parseDataRow(body: Buffer): Array<string | null> {
  const count = body.readUInt16BE(0);
  const values: Array<string | null> = [];
  let at = 2;
  for (let i = 0; i < count; i++) {
    const length = body.readInt32BE(at);
    at += 4;
    if (length < 0) {
      values.push(null);
      continue;
    }
    values.push(body.toString("utf8", at, at + length));
    at += length;
  }
  return values;
}

/** A pending request: its bytes (for the echo check) and its promise. */
interface PendingRequest extends Waiter<PagestreamResponse> {
  readonly frame: Buffer;
}

export interface GetPageRequestInput {
  readonly rel: RelTag;
  readonly blkno: number;
  /** `LSN_MAX` (u64::MAX on the wire) asks for the latest version. */
  readonly requestLsn: Lsn;
  readonly notModifiedSince: Lsn;
}

/** Distributes Omit over a union (plain Omit would collapse it). */
type WithoutHeader<T> = T extends unknown ? Omit<T, "reqid" | "reqidHigh" | "reqidLow"> : never;
export type PagestreamRequestInput = WithoutHeader<PagestreamRequest>;

/**
 * One pagestream on a PageServiceClient. Requests get consecutive reqids from 1; see the
 * module comment for pipelining and failure.
 */
export class Pagestream {
  readonly version: PagestreamProtocolVersion;
  private readonly client: PageServiceClient;
  private readonly pending: PendingRequest[] = [];
  private head = 0;
  private nextReqid = 1;
  private failure: Error | null = null;

  constructor(client: PageServiceClient, version: PagestreamProtocolVersion) {
    this.client = client;
    this.version = version;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.pending.length - this.head;
  }

  /** Sends one request (pipelined); resolves with its response, Error responses included. */
  request(input: PagestreamRequestInput): Promise<PagestreamResponse> {
    if (this.failure) return Promise.reject(this.failure);
    const reqid = this.nextReqid++;
    const request = {
      ...input,
      reqid,
      reqidHigh: Math.floor(reqid / TWO_POW_32),
      reqidLow: reqid >>> 0,
    } as PagestreamRequest;
    const payload = encodePagestreamRequest(this.version, request);
    const framed = Buffer.allocUnsafe(MESSAGE_HEADER_BYTES + payload.length);
    framed[0] = 0x64; // 'd'
    framed.writeUInt32BE(4 + payload.length, 1);
    payload.copy(framed, MESSAGE_HEADER_BYTES);
    return new Promise((resolve, reject) => {
      this.pending.push({ frame: payload, resolve, reject });
      this.client.write(framed);
    });
  }

  /**
   * A GetPage written straight into its one framed buffer (47 bytes in v3, from Node's small
   * buffer pool): what `request` does, without the intermediate request object and copy — the
   * load generator's hot path. Resolves with the response, Error responses included.
   */
  getPageRequest(
    rel: RelTag,
    blkno: number,
    requestLsn: Lsn,
    notModifiedSince: Lsn,
  ): Promise<PagestreamResponse> {
    if (this.failure) return Promise.reject(this.failure);
    const reqid = this.nextReqid++;
    const v3 = this.version === 3;
    const payloadLength = v3 ? 42 : 34;
    const framed = Buffer.allocUnsafe(MESSAGE_HEADER_BYTES + payloadLength);
    framed[0] = 0x64; // 'd'
    framed.writeUInt32BE(4 + payloadLength, 1);
    framed[5] = 2; // GetPage
    let at = 6;
    if (v3) {
      framed.writeUInt32BE(Math.floor(reqid / TWO_POW_32), at);
      framed.writeUInt32BE(reqid >>> 0, at + 4);
      at += 8;
    }
    framed.writeUInt32BE(lsnHigh(requestLsn), at);
    framed.writeUInt32BE(lsnLow(requestLsn), at + 4);
    framed.writeUInt32BE(lsnHigh(notModifiedSince), at + 8);
    framed.writeUInt32BE(lsnLow(notModifiedSince), at + 12);
    framed.writeUInt32BE(rel.spcNode, at + 16);
    framed.writeUInt32BE(rel.dbNode, at + 20);
    framed.writeUInt32BE(rel.relNode, at + 24);
    framed[at + 28] = rel.forkNum;
    framed.writeUInt32BE(blkno, at + 29);
    return new Promise((resolve, reject) => {
      this.pending.push({ frame: framed.subarray(MESSAGE_HEADER_BYTES), resolve, reject });
      this.client.write(framed);
    });
  }

  /** GetPage; an Error response rejects with PagestreamRequestError. Returns a copy-free view. */
  async getPage(input: GetPageRequestInput): Promise<Buffer> {
    const response = await this.request({ kind: "GetPage", ...input });
    if (response.kind === "Error") throw new PagestreamRequestError(response.message);
    if (response.kind !== "GetPage") throw new PagestreamResponseError("not a GetPage response");
    return response.page;
  }

  /** Called by the client for each CopyData. */
  onResponse(frame: Buffer): void {
    const next = this.pending[this.head];
    if (!next) throw new PagestreamResponseError("a response arrived with no request pending");
    this.pending[this.head] = undefined as unknown as PendingRequest;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
    let response: PagestreamResponse;
    try {
      response = decodePagestreamResponse(frame, this.version, next.frame);
    } catch (error) {
      next.reject(error as Error);
      throw error; // The stream is out of step: the client fails everything else.
    }
    next.resolve(response);
  }

  failAll(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    for (let i = this.head; i < this.pending.length; i++) this.pending[i]!.reject(error);
    this.pending.length = 0;
    this.head = 0;
  }

  /** Ends the stream (CopyDone) once every pending response arrived; the client is ready again. */
  async end(): Promise<void> {
    await this.client.endStream();
  }
}
