/**
 * Every long-running task of the process, by name, kind and the tenant/timeline it works for
 * (Neon's task_mgr): shutdown waits for each, the API and the console list them.
 */
export interface TaskInfo {
  readonly id: number;
  readonly kind: string;
  readonly name: string;
  readonly tenantId: string | null;
  readonly timelineId: string | null;
  readonly startedAtMs: number;
}

interface RunningTask extends TaskInfo {
  readonly done: Promise<void>;
  readonly abort: AbortController;
}

export class TaskRegistry {
  private nextId = 1;
  private readonly running = new Map<number, RunningTask>();

  /** Starts `work` as a named task; it receives an AbortSignal that fires on shutdown. */
  spawn(
    info: { kind: string; name: string; tenantId?: string | null; timelineId?: string | null },
    work: (signal: AbortSignal) => Promise<void>,
  ): TaskInfo {
    const id = this.nextId++;
    const abort = new AbortController();
    const done = Promise.resolve()
      .then(() => work(abort.signal))
      .catch(() => {})
      .finally(() => this.running.delete(id));
    const task: RunningTask = {
      id,
      kind: info.kind,
      name: info.name,
      tenantId: info.tenantId ?? null,
      timelineId: info.timelineId ?? null,
      startedAtMs: Date.now(),
      done,
      abort,
    };
    this.running.set(id, task);
    return task;
  }

  list(): TaskInfo[] {
    return [...this.running.values()].map(
      ({ id, kind, name, tenantId, timelineId, startedAtMs }) => ({
        id,
        kind,
        name,
        tenantId,
        timelineId,
        startedAtMs,
      }),
    );
  }

  /** Cancels the tasks of `kind` (or all) and waits for them to end. */
  async shutdown(kind?: string): Promise<void> {
    const tasks = [...this.running.values()].filter((t) => kind === undefined || t.kind === kind);
    for (const task of tasks) task.abort.abort();
    await Promise.all(tasks.map((t) => t.done));
  }
}
