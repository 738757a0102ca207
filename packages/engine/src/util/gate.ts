/**
 * A gate (Neon's `utils::sync::gate`): long-running work `enter`s it and leaves when done; `close`
 * refuses new entries and waits until everyone inside has left. Shutdown closes the gate after
 * cancelling, so nothing touches a timeline's files once its shutdown returns.
 */
import { ShuttingDownError } from "../errors.ts";

export class Gate {
  private inside = 0;
  private closed = false;
  private drained: (() => void) | null = null;

  get isClosed(): boolean {
    return this.closed;
  }

  get count(): number {
    return this.inside;
  }

  /** Enters, or throws ShuttingDownError if closed. Use with `using`. */
  enter(): Disposable & { leave(): void } {
    if (this.closed) throw new ShuttingDownError("gate closed");
    this.inside++;
    let left = false;
    const leave = () => {
      if (left) return;
      left = true;
      this.inside--;
      if (this.inside === 0 && this.drained) this.drained();
    };
    return { leave, [Symbol.dispose]: leave };
  }

  /** Runs `work` inside the gate. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    using _guard = this.enter();
    return await work();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.inside === 0) return;
    await new Promise<void>((resolve) => {
      this.drained = resolve;
    });
  }
}
