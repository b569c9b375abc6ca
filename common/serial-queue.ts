/**
 * Runs async jobs one at a time, in the order they were queued. A job that fails rejects its own
 * promise only: the next job still runs.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private count = 0;

  /** Run `job` after every job queued before it has settled; resolves or rejects as `job` does. */
  run<T>(job: () => T | PromiseLike<T>): Promise<T> {
    this.count++;
    const result = this.tail.then(job);
    const done = () => void this.count--;
    this.tail = result.then(done, done);
    return result;
  }

  /** Jobs queued or running. */
  get size(): number {
    return this.count;
  }

  /** Resolves once every job queued so far has settled (never rejects). */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
