/** Tables and progress for a person (terminal) and for a script (plain), one row per behaviour. */
import t from 'tap';
import { PassThrough } from 'node:stream';
import { countProgress, progress, renderTable, type Term } from '../cli-output.js';

const head = ['ID', 'RUNNING'];
const rows = [
  ['/hello', '2/2'],
  ['/a-longer-id', '0/1'],
];

/** A terminal for the bars: a stream that says it is a TTY, and what was drawn on it. */
function ttyTerm(): { term: Term; drawn: () => string } {
  const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  let drawn = '';
  stream.on('data', (c: Buffer) => (drawn += c.toString()));
  return { term: { out: () => {}, err: () => {}, tty: true, progressStream: stream as unknown as NodeJS.WriteStream }, drawn: () => drawn };
}

t.test('tables: aligned plain columns off a terminal, boxes on one', async (t) => {
  t.equal(renderTable({ tty: false }, head, rows), 'ID            RUNNING\n/hello        2/2\n/a-longer-id  0/1\n');
  const boxed = renderTable({ tty: true }, head, rows);
  t.match(boxed, /^┌─+┬─+┐$/m);
  t.match(boxed, /^│ \/a-longer-id │ 0\/1 {5}│$/m);
  t.notMatch(boxed, /├/, 'no separator between rows');
  t.equal(renderTable({ tty: false }, head, []), 'ID  RUNNING\n', 'no rows: the header alone');
});

t.test('progress: one plain line per change off a terminal, a bar on one', async (t) => {
  let err = '';
  const plain: Term = { out: () => {}, err: (s) => (err += s), tty: false };
  const p = progress(plain, '/web');
  const s = { total: 2, staged: 1, running: 0, healthy: 0, checked: true };
  p.update(s);
  p.update(s);
  p.update({ ...s, staged: 0, running: 2, healthy: 1 });
  p.update({ ...s, staged: 0, running: 2, healthy: 2, note: 'last failure: x' });
  p.stop();
  t.equal(err, '/web: 0/2 running, 1 staged, 0 healthy\n/web: 2/2 running, 0 staged, 1 healthy\n/web: 2/2 running, 0 staged, 2 healthy (last failure: x)\n', 'a line per change, none repeated');

  const tty = ttyTerm();
  const bar = progress(tty.term, '/web');
  bar.update({ total: 2, staged: 0, running: 2, healthy: 0, checked: false });
  bar.stop();
  t.match(tty.drawn(), /\/web \[█{20}\] 2\/2 running, 0 staged/, 'a full bar with the counts');
});

t.test('countProgress: "label done/total" lines off a terminal, a bar with the count on one', async (t) => {
  let err = '';
  const c = countProgress({ out: () => {}, err: (s) => (err += s), tty: false }, 'agents applied');
  c.update(0, 2);
  c.update(0, 2);
  c.update(2, 2);
  c.stop();
  t.equal(err, 'agents applied 0/2\nagents applied 2/2\n', 'a line per change, none repeated');

  const tty = ttyTerm();
  const bar = countProgress(tty.term, 'agents applied');
  bar.update(1, 2);
  bar.update(2, 2);
  bar.stop();
  t.match(tty.drawn(), /agents applied \[█{20}\] 2\/2/, 'a full bar with the count');
});
