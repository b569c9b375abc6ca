/**
 * A daemon is a list of components started in order and stopped in reverse. Construction does no
 * I/O; start()/stop() do. runUntilSignal keeps the process up until SIGINT/SIGTERM.
 */
import type { Logger } from './log.js';

export interface Component {
  readonly name: string;
  start(signal?: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

export class Daemon {
  private started: Component[] = [];
  constructor(
    private readonly components: Component[],
    private readonly log?: Logger,
  ) {}

  async start(signal?: AbortSignal): Promise<void> {
    for (const c of this.components) {
      try {
        await c.start(signal);
      } catch (e) {
        this.log?.error('component_start_failed', { name: c.name, err: e });
        await this.stop();
        throw e;
      }
      this.started.push(c);
      this.log?.debug('component_started', { name: c.name });
    }
  }

  async stop(): Promise<void> {
    for (const c of this.started.splice(0).reverse()) {
      try {
        await c.stop();
      } catch (e) {
        this.log?.warn('component_stop_failed', { name: c.name, err: e });
      }
    }
  }
}

/** Resolve when the process gets SIGINT or SIGTERM (then run `onStop`). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const h = (s: NodeJS.Signals) => {
      process.off('SIGINT', h);
      process.off('SIGTERM', h);
      resolve(s);
    };
    process.on('SIGINT', h);
    process.on('SIGTERM', h);
  });
}
