/**
 * How CLI commands print for a person and for a script: on a terminal a boxed table (cli-table3)
 * and a live progress bar (cli-progress); off a terminal aligned plain columns and one plain line
 * per change, so `grep`/`awk` and logs read them. `--json` output does not come through here.
 */
import Table from 'cli-table3';
import cliProgress from 'cli-progress';

/** Where a command writes and whether a person watches (tests pass their own). */
export interface Term {
  out(s: string): void;
  err(s: string): void;
  /** stdout is a terminal (tables). */
  tty: boolean;
  /** stderr is a terminal (progress); its stream, for the bar to redraw on. */
  progressStream?: NodeJS.WriteStream;
}

export const processTerm = (): Term => ({
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
  tty: process.stdout.isTTY === true,
  ...(process.stderr.isTTY ? { progressStream: process.stderr } : {}),
});

/** A table: boxed on a terminal, aligned columns separated by two spaces otherwise. */
export function renderTable(term: Pick<Term, 'tty'>, head: string[], rows: string[][]): string {
  if (term.tty) {
    const t = new Table({ head, style: { head: ['bold'], border: [] }, wordWrap: false, chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } });
    t.push(...rows);
    return `${t.toString()}\n`;
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [head, ...rows].map(line).join('\n') + '\n';
}

/** Label/value pairs, one per line, labels aligned. */
export function renderFields(pairs: [string, string][]): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n';
}

/** What a waiting command reports while it waits. */
export interface ProgressState {
  /** Instances wanted. */
  total: number;
  staged: number;
  running: number;
  healthy: number;
  /** Health checks defined: `healthy` counts toward done. */
  checked: boolean;
  note?: string;
}

export interface Progress {
  update(s: ProgressState): void;
  /** Stop the bar (the command then prints its result). */
  stop(): void;
}

/** What a bar shows for one state, and the plain line that stands for it off a terminal. */
interface Frame {
  value: number;
  total: number;
  /** The bar's `{status}`. */
  status: string;
  line: string;
}

/**
 * A cli-progress bar drawn with `format` on a terminal (left showing its last state), else one plain
 * line (stderr) each time the rendered line changes.
 */
function liveProgress<S>(term: Term, format: string, render: (s: S) => Frame): { update(s: S): void; stop(): void } {
  if (term.progressStream) {
    const bar = new cliProgress.SingleBar(
      { stream: term.progressStream, format, barsize: 20, hideCursor: false, clearOnComplete: false, fps: 10 },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(s) {
        const f = render(s);
        if (!started) bar.start(f.total, f.value, { status: f.status });
        else {
          bar.setTotal(f.total);
          bar.update(f.value, { status: f.status });
        }
        started = true;
      },
      stop() {
        if (started) bar.stop();
        started = false;
      },
    };
  }
  let last = '';
  return {
    update(s) {
      const t = render(s).line;
      if (t !== last) term.err(`${t}\n`);
      last = t;
    },
    stop() {},
  };
}

/** Instances staged/running/healthy toward a total: a bar on a terminal, else one plain line (stderr) per change. */
export function progress(term: Term, label: string): Progress {
  return liveProgress<ProgressState>(term, `${label} [{bar}] {status}`, (s) => {
    const status = `${s.running}/${s.total} running, ${s.staged} staged${s.checked ? `, ${s.healthy} healthy` : ''}${s.note ? ` (${s.note})` : ''}`;
    return { value: Math.min(s.total, s.checked ? s.healthy : s.running), total: Math.max(s.total, 1), status, line: `${label}: ${status}` };
  });
}

/** A count toward a total ("agents applied 2/3"): a bar on a terminal, else one plain line (stderr) per change. */
export function countProgress(term: Term, label: string): { update(done: number, total: number): void; stop(): void } {
  const p = liveProgress<{ done: number; total: number }>(term, `${label} [{bar}] {value}/{total}`, ({ done, total }) => ({ value: done, total, status: '', line: `${label} ${done}/${total}` }));
  return { update: (done, total) => p.update({ done, total }), stop: () => p.stop() };
}
