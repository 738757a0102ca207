/**
 * The pid-file lock on a workdir: one pageserver per workdir. The file is created exclusively;
 * if it exists, the pid in it is checked: a live process means refusal (naming the pid), a dead
 * one (a previous crash) means the lock is stale and is taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";

export const PID_FILE_NAME = "pageserver.pid";

export class PidFileLockError extends Error {
  readonly code = "PS_ERR_LOCKED";
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export class PidFile {
  readonly path: string;
  private held = false;

  constructor(workdir: string) {
    this.path = path.join(workdir, PID_FILE_NAME);
  }

  /** Takes the lock or throws PidFileLockError naming the running pageserver's pid. */
  acquire(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.path, "wx", 0o644);
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        this.held = true;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const pid = Number(readFileSync(this.path, "utf8").trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new PidFileLockError(
          `another pageserver (pid ${pid}) is running on this workdir: ${this.path} is locked`,
        );
      }
      unlinkSync(this.path); // Stale: left by a process that is gone.
    }
    throw new PidFileLockError(`cannot take the lock ${this.path}: it keeps reappearing`);
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    try {
      unlinkSync(this.path);
    } catch {}
  }
}
