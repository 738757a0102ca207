/**
 * One page-service connection: the PostgreSQL startup (trust, or a JWT as the cleartext
 * password), simple-query commands, and the pagestream CopyBoth sub-protocol.
 *
 *     startup ──▶ (password) ──▶ ready ──pagestream_vN──▶ streaming ──CopyDone──▶ ready
 *
 * # Pipelining
 * Requests are decoded as soon as their bytes arrive and queued; one loop serves the queue in
 * order, taking every request that has already arrived as one batch (GetPages in it become vectored
 * reads). Responses go out corked per batch. The queue is bounded: past `QUEUE_REQUESTS_MAX` the
 * socket is paused, and the loop waits for 'drain' when the socket's buffer is full, so a client
 * that does not read cannot make us buffer without limit.
 */

import type { KeyObject } from "node:crypto";
import type { Socket } from "node:net";
import { checkLeasable } from "@pageserver/api";
import {
  formatLsn,
  InvalidArgumentError,
  PageserverError,
  type TenantId,
  type Timeline,
} from "@pageserver/engine";
import { type AuthError, type Claims, checkPermission, verifyToken } from "../auth/jwt.ts";
import type { PageserverContext } from "../pageserver_context.ts";
import type { PageServiceMetrics, PagestreamMetrics } from "./page_service_metrics.ts";
import {
  decodePagestreamRequest,
  encodeDecodeErrorResponse,
  PagestreamDecodeError,
  type PagestreamProtocolVersion,
  type PagestreamRequest,
} from "./pagestream_codec.ts";
import { PagestreamHandler, type PagestreamResponseFrame } from "./pagestream_handler.ts";
import {
  encodeAuthenticationCleartextPassword,
  encodeAuthenticationOk,
  encodeCommandComplete,
  encodeCopyBothResponse,
  encodeDataRow,
  encodeEmptyQueryResponse,
  encodeEncryptionRefused,
  encodeErrorResponse,
  encodeParameterStatus,
  encodeReadyForQuery,
  encodeRowDescription,
  type PageServiceCommand,
  PageServiceCommandError,
  PgFrameReader,
  type PgFrontendMessage,
  PgProtocolError,
  parsePageServiceCommand,
  SQLSTATE_FEATURE_NOT_SUPPORTED,
  SQLSTATE_INTERNAL_ERROR,
} from "./pg_wire.ts";

/** Requests decoded but not yet served beyond which we stop reading the socket. */
const QUEUE_REQUESTS_MAX = 256;

type Phase = "startup" | "password" | "ready" | "streaming" | "closed";

export class PageServiceConnection {
  private readonly socket: Socket;
  private readonly context: PageserverContext;
  private readonly authKeys: readonly KeyObject[] | null;
  private readonly reader = new PgFrameReader();
  private phase: Phase = "startup";
  private claims: Claims | null = null;
  private stream: {
    handler: PagestreamHandler;
    version: PagestreamProtocolVersion;
    metrics: PagestreamMetrics;
  } | null = null;
  private readonly serviceMetrics: PageServiceMetrics;
  private queue: Array<PagestreamRequest | PagestreamDecodeError> = [];
  /** Whether `queue` holds a decode error (the rare case that needs the slow path). */
  private queueHasErrors = false;
  /** When each queued request arrived (performance.now()), for the batch wait time. */
  private arrivals: number[] = [];
  private serving = false;
  private paused = false;
  private streamEnding = false;
  readonly closed: Promise<void>;

  constructor(
    socket: Socket,
    context: PageserverContext,
    authKeys: readonly KeyObject[] | null,
    serviceMetrics: PageServiceMetrics,
  ) {
    this.socket = socket;
    this.serviceMetrics = serviceMetrics;
    this.context = context;
    this.authKeys = authKeys;
    socket.setNoDelay(true);
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => {});
    socket.once("close", () => {
      this.phase = "closed";
    });
  }

  /** Ends the connection (shutdown): Neon drops the socket rather than finishing the stream. */
  close(): void {
    this.phase = "closed";
    this.socket.destroy();
  }

  private send(...messages: Buffer[]): boolean {
    if (this.phase === "closed") return false;
    let ok = true;
    for (const message of messages) ok = this.socket.write(message);
    return ok;
  }

  private fail(error: unknown): void {
    const pg = error instanceof PgProtocolError ? error : null;
    const message = error instanceof Error ? error.message : String(error);
    this.send(
      encodeErrorResponse({
        severity: "FATAL",
        sqlState: pg?.sqlState ?? SQLSTATE_INTERNAL_ERROR,
        message,
      }),
    );
    this.phase = "closed";
    this.socket.end();
  }

  private onData(chunk: Buffer): void {
    this.reader.push(chunk);
    try {
      for (let message = this.reader.next(); message !== null; message = this.reader.next()) {
        this.onMessage(message);
        if (this.phase === "closed") return;
      }
    } catch (error) {
      this.fail(error);
    }
  }

  private onMessage(message: PgFrontendMessage): void {
    switch (message.type) {
      case "SSLRequest":
      case "GSSENCRequest":
        this.send(encodeEncryptionRefused());
        return;
      case "CancelRequest":
        this.phase = "closed";
        this.socket.end();
        return;
      case "StartupMessage":
        this.onStartup();
        return;
      case "PasswordMessage":
        this.onPassword(message.password);
        return;
      case "Query":
        if (this.phase !== "ready")
          throw new PgProtocolError(`unexpected Query in phase ${this.phase}`);
        void this.onQuery(message.query);
        return;
      case "CopyData":
        this.onCopyData(message.data);
        return;
      case "CopyDone":
      case "CopyFail":
        this.streamEnding = true;
        this.pump();
        return;
      case "Terminate":
        this.phase = "closed";
        this.socket.end();
        return;
      case "Sync":
        return;
      default:
        this.send(
          encodeErrorResponse({
            severity: "ERROR",
            sqlState: SQLSTATE_FEATURE_NOT_SUPPORTED,
            message: `${message.type} messages are not supported; use simple queries`,
          }),
          encodeReadyForQuery(),
        );
    }
  }

  private onStartup(): void {
    if (this.phase !== "startup") throw new PgProtocolError("unexpected StartupMessage");
    if (this.authKeys) {
      this.phase = "password";
      this.send(encodeAuthenticationCleartextPassword());
      return;
    }
    this.sayReady();
  }

  private sayReady(): void {
    this.phase = "ready";
    this.send(
      encodeAuthenticationOk(),
      encodeParameterStatus("client_encoding", "UTF8"),
      encodeParameterStatus("integer_datetimes", "on"),
      encodeParameterStatus("server_version", "14.1"),
      encodeReadyForQuery(),
    );
  }

  private onPassword(password: string): void {
    if (this.phase !== "password" || !this.authKeys)
      throw new PgProtocolError("unexpected PasswordMessage");
    try {
      this.claims = verifyToken(password, this.authKeys);
    } catch (error) {
      throw new PgProtocolError(`authentication failed: ${(error as Error).message}`, "28000");
    }
    this.sayReady();
  }

  private authorize(tenantId: TenantId): void {
    if (!this.authKeys) return;
    try {
      checkPermission(this.claims!, tenantId);
    } catch (error) {
      throw new PageServiceCommandError((error as AuthError).message);
    }
  }

  private queryError(error: unknown): void {
    const sqlState =
      error instanceof PageServiceCommandError ? error.sqlState : SQLSTATE_INTERNAL_ERROR;
    this.send(
      encodeErrorResponse({ severity: "ERROR", sqlState, message: (error as Error).message }),
      encodeReadyForQuery(),
    );
  }

  private async onQuery(query: string): Promise<void> {
    let command: PageServiceCommand;
    try {
      command = parsePageServiceCommand(query);
    } catch (error) {
      this.queryError(error);
      return;
    }
    try {
      switch (command.kind) {
        case "Empty":
          this.send(encodeEmptyQueryResponse(), encodeReadyForQuery());
          return;
        case "Set":
          this.send(encodeCommandComplete("SELECT 1"), encodeReadyForQuery());
          return;
        case "PageStream":
          this.serviceMetrics.command(
            command.protocolVersion === 3 ? "PageStreamV3" : "PageStreamV2",
          );
          this.authorize(command.tenantId);
          this.startStream(
            this.timelineOf(command.tenantId, command.timelineId),
            command.protocolVersion,
          );
          return;
        case "LeaseLsn": {
          this.serviceMetrics.command("LeaseLsn");
          this.authorize(command.tenantShardId.tenantId);
          const timeline = this.timelineOf(command.tenantShardId.tenantId, command.timelineId);
          const validUntil = this.renewLease(timeline, command.lsn);
          this.send(
            encodeRowDescription(["valid_until"]),
            encodeDataRow([validUntil === null ? null : String(validUntil)]),
            encodeCommandComplete("SELECT 1"),
            encodeReadyForQuery(),
          );
          return;
        }
        case "BaseBackup":
        case "FullBackup":
          this.serviceMetrics.command(command.kind === "BaseBackup" ? "Basebackup" : "Fullbackup");
          throw new PageServiceCommandError(
            `${command.kind === "BaseBackup" ? "basebackup" : "fullbackup"} is not supported by this pageserver yet`,
          );
      }
    } catch (error) {
      this.queryError(error);
    }
  }

  private timelineOf(
    tenantId: TenantId,
    timelineId: Parameters<ReturnType<PageserverContext["tenants"]["get"]>["getTimeline"]>[0],
  ): Timeline {
    const tenant = this.context.tenants.get(tenantId);
    const timeline = tenant.getTimeline(timelineId);
    if (timeline.state.kind !== "Active")
      throw new PageserverError(
        "PS_ERR_UNAVAILABLE",
        `timeline ${timelineId} is ${timeline.state.kind}`,
      );
    return timeline;
  }

  /** The page service's lease: renews (extends) a lease; null when refused. */
  private renewLease(timeline: Timeline, lsn: Parameters<typeof checkLeasable>[1]): number | null {
    try {
      checkLeasable(timeline, lsn);
    } catch (error) {
      if (error instanceof InvalidArgumentError) {
        this.context.log.info({ lsn: formatLsn(lsn), reason: error.message }, "lease refused");
        return null;
      }
      throw error;
    }
    const tenant = this.context.tenants.get(timeline.tenantId);
    return timeline.gc.lease(lsn, tenant.config.lsnLeaseLengthMs);
  }

  private startStream(timeline: Timeline, version: PagestreamProtocolVersion): void {
    const streamMetrics = this.serviceMetrics.forTimeline(timeline.tenantId, timeline.timelineId);
    this.stream = {
      version,
      metrics: streamMetrics,
      handler: new PagestreamHandler({
        timeline,
        version,
        metrics: this.context.metrics,
        streamMetrics,
        waitLsnTimeoutMs: this.context.config.waitLsnTimeoutMs,
        maxBatchSize: this.context.config.pipelining ? this.context.config.maxBatchSize : 1,
      }),
    };
    this.phase = "streaming";
    this.streamEnding = false;
    this.send(encodeCopyBothResponse());
  }

  private onCopyData(data: Buffer): void {
    if (this.phase !== "streaming" || !this.stream)
      throw new PgProtocolError("CopyData outside a pagestream");
    this.arrivals.push(performance.now());
    try {
      this.queue.push(decodePagestreamRequest(data, this.stream.version));
    } catch (error) {
      if (!(error instanceof PagestreamDecodeError)) throw error;
      this.queue.push(error);
      this.queueHasErrors = true;
    }
    if (this.queue.length >= QUEUE_REQUESTS_MAX && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    this.pump();
  }

  /** Serves the queue until it is empty; one instance at a time. */
  private pump(): void {
    if (this.serving) return;
    this.serving = true;
    this.serveQueue()
      .catch((error) => this.fail(error))
      .finally(() => {
        this.serving = false;
      });
  }

  private async serveQueue(): Promise<void> {
    while (this.phase === "streaming" && this.stream) {
      if (this.queue.length === 0) {
        if (this.streamEnding) this.endStream();
        return;
      }
      // Take the whole queue (swap, no copy); requests arriving meanwhile start the next one.
      const batch = this.queue;
      const hasErrors = this.queueHasErrors;
      const arrivals = this.arrivals;
      this.queue = [];
      this.queueHasErrors = false;
      this.arrivals = [];
      const { metrics } = this.stream;
      const startedAt = performance.now();
      for (const arrival of arrivals) {
        const waitedSeconds = (startedAt - arrival) / 1000;
        metrics.batchWait.observe(waitedSeconds);
        metrics.batchWaitGlobal.observe(waitedSeconds);
      }
      if (this.paused) {
        this.paused = false;
        this.socket.resume();
      }
      const responses = hasErrors
        ? await this.serveBatch(batch)
        : await this.stream.handler.serve(batch as PagestreamRequest[]);
      if ((this.phase as Phase) === "closed") return;
      // Flush time, as Neon counts it apart from the smgr latency: handing the responses to the
      // socket, and waiting for it to drain when the client reads slower than we answer.
      const flushStarted = performance.now();
      this.socket.cork();
      let writable = true;
      for (const response of responses) {
        if (response instanceof Uint8Array) {
          writable = this.socket.write(response);
        } else {
          this.socket.write(response[0]);
          writable = this.socket.write(response[1]);
        }
      }
      this.socket.uncork();
      if (!writable)
        await new Promise<void>((resolve) => this.socket.once("drain", () => resolve()));
      const flushMicros = Math.round((performance.now() - flushStarted) * 1000);
      metrics.flushMicros.value += flushMicros;
      metrics.flushMicrosGlobal.value += flushMicros;
    }
  }

  private async serveBatch(
    batch: Array<PagestreamRequest | PagestreamDecodeError>,
  ): Promise<PagestreamResponseFrame[]> {
    const responses: PagestreamResponseFrame[] = [];
    let run: PagestreamRequest[] = [];
    const flushRun = async () => {
      if (run.length > 0) responses.push(...(await this.stream!.handler.serve(run)));
      run = [];
    };
    for (const item of batch) {
      if (item instanceof PagestreamDecodeError) {
        await flushRun();
        responses.push(encodeDecodeErrorResponse(item, { copyData: true }));
      } else {
        run.push(item);
      }
    }
    await flushRun();
    return responses;
  }

  private endStream(): void {
    this.stream = null;
    this.phase = "ready";
    this.send(encodeCommandComplete("COPY 0"), encodeReadyForQuery());
  }
}
