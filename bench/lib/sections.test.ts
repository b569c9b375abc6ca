import t from 'tap';
import { NOTES } from './notes.js';
import { keptSections } from './sections.js';

t.test('keptSections keeps the named sections of the old page, and nothing else', (t) => {
  const page = [
    '# l4lb benchmarks',
    '',
    'Load when started: `1 1 1`',
    '',
    '## Programming VIPs (3 backends each)',
    '',
    '| 1 | old |',
    '',
    '## Throughput through a VIP vs direct',
    '',
    '| 2 | t |',
    '',
    '## IPVS (inside UML)',
    '',
    '### Traffic through an IPVS VIP',
    '',
    '| 3 | i |',
    '',
    'Load when finished: `2 2 2`.',
    '',
    NOTES,
    '',
    '## Notes',
    'hand',
  ].join('\n');
  t.same(keptSections(page, ['Throughput', 'IPVS']), ['## Throughput through a VIP vs direct', '', '| 2 | t |', '', '## IPVS (inside UML)', '', '### Traffic through an IPVS VIP', '', '| 3 | i |', ''], 'each section up to the next heading, the closing load line or the notes');
  t.same(keptSections(page, ['Notes']), [], 'nothing under the notes marker (the runner keeps that)');
  t.same(keptSections(page, ['Connection rate']), [], 'a section the page lacks');
  t.end();
});
