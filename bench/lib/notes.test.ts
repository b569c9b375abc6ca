import t from 'tap';
import { NOTES, keptNotes } from './notes.js';

t.test('keptNotes returns the page from the marker on, or nothing without one', (t) => {
  const page = `# x benchmarks\n\n| a | 1 |\n\n${NOTES}\n\nSession 9: why the figure moved.\n`;
  t.equal(keptNotes(page), `${NOTES}\n\nSession 9: why the figure moved.\n`);
  t.equal(keptNotes('# x benchmarks\n\n| a | 1 |\n'), '');
  t.end();
});
