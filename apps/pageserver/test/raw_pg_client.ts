/**
 * A raw PostgreSQL-protocol client for tests: it sends exactly the bytes it is told to (so tests
 * can send malformed frames) and reads backend messages as (type, body) pairs.
 */
import { connect, type Socket } from "node:net";

export interface BackendMessage {
  readonly type: string;
  readonly body: Buffer;
}

export class RawPgClient {
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on("close", () => {
      this.closed = true;
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on("error", () => {});
  }

  static connect(port: number): Promise<RawPgClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port }, () => resolve(new RawPgClient(socket)));
      socket.once("error", reject);
    });
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  startup(user = "postgres"): void {
    const params = Buffer.from(`user\0${user}\0database\0postgres\0\0`);
    const message = Buffer.alloc(8 + params.length);
    message.writeInt32BE(message.length, 0);
    message.writeInt32BE(196608, 4);
    params.copy(message, 8);
    this.write(message);
  }

  static typed(type: string, body: Buffer): Buffer {
    const message = Buffer.alloc(5 + body.length);
    message.write(type, 0, "latin1");
    message.writeInt32BE(4 + body.length, 1);
    body.copy(message, 5);
    return message;
  }

  query(text: string): void {
    this.write(RawPgClient.typed("Q", Buffer.from(`${text}\0`)));
  }

  password(text: string): void {
    this.write(RawPgClient.typed("p", Buffer.from(`${text}\0`)));
  }

  copyData(payload: Buffer): void {
    this.write(RawPgClient.typed("d", payload));
  }

  /** The next backend message (waits up to `timeoutMs`); null if the connection closed. */
  async next(timeoutMs = 10_000): Promise<BackendMessage | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buffer.length >= 5) {
        const length = this.buffer.readInt32BE(1);
        if (this.buffer.length >= 1 + length) {
          const message = {
            type: String.fromCharCode(this.buffer[0]!),
            body: this.buffer.subarray(5, 1 + length),
          };
          this.buffer = this.buffer.subarray(1 + length);
          return message;
        }
      }
      if (this.closed) return null;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error("timed out waiting for a backend message");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Reads messages until one of `type`; returns it and what came before. */
  async until(type: string): Promise<{ message: BackendMessage; before: BackendMessage[] }> {
    const before: BackendMessage[] = [];
    for (;;) {
      const message = await this.next();
      if (!message)
        throw new Error(
          `connection closed before a '${type}' message; got ${before.map((m) => m.type).join("")}`,
        );
      if (message.type === type) return { message, before };
      before.push(message);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The 'M' field of an ErrorResponse body. */
export function errorMessageOf(body: Buffer): string {
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const code = String.fromCharCode(body[at]!);
    const end = body.indexOf(0, at + 1);
    if (code === "M") return body.toString("utf8", at + 1, end);
    at = end + 1;
  }
  return "";
}
