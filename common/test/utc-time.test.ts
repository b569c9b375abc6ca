/**
 * The UTC timestamps made without V8's date formatting (common/utc-time.ts) are the text V8 makes:
 * `toISOString` and `toUTCString` over edges (the epoch, leap days, century years, before 1970, the
 * years 0 and 9999) and random times; out of range is refused; a served response's Date header is it.
 */
import t from 'tap';
import http from 'node:http';
import { httpDate, isoTime } from '../utc-time.js';
import { Router, serve } from '../http.js';

const MIN = -62167219200000; // 0000-01-01T00:00:00.000Z
const MAX = 253402300799999; // 9999-12-31T23:59:59.999Z

t.test('the same text as Date', async (t) => {
  const edges = [0, -1, 1, 951782400000, 951868800000, 4107542400000, -2203891200000, -2208988800000, 1709164800000, 1709251199999, MIN, MAX, MIN + 86400000 * 59, Date.now()];
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const times = [...edges, ...Array.from({ length: 20000 }, () => Math.floor(MIN + rnd() * (MAX - MIN)))];
  const bad: string[] = [];
  for (const ms of times) {
    const d = new Date(ms);
    if (isoTime(ms) !== d.toISOString()) bad.push(`iso ${ms}: ${isoTime(ms)} != ${d.toISOString()}`);
    if (httpDate(ms) !== d.toUTCString()) bad.push(`http ${ms}: ${httpDate(ms)} != ${d.toUTCString()}`);
  }
  t.same(bad.slice(0, 5), [], `${times.length} times`);
  t.equal(isoTime(1.9), '1970-01-01T00:00:00.001Z', 'a fraction of a millisecond is cut, as Date does');
  t.throws(() => isoTime(MAX + 1), RangeError);
  t.throws(() => httpDate(NaN), RangeError);
});

t.test('a served response carries the Date header of utc-time', async (t) => {
  const s = await serve(new Router().get('/x', () => ({ json: {} })), { host: '127.0.0.1', port: 0 });
  t.teardown(() => s.close());
  const before = Date.now();
  const date = await new Promise<string | undefined>((resolve, reject) =>
    http.get(`http://127.0.0.1:${s.address().port}/x`, (res) => {
      res.resume();
      resolve(res.headers.date);
    }).on('error', reject),
  );
  const after = Date.now();
  t.ok(date === new Date(before).toUTCString() || date === new Date(after).toUTCString(), `Date: ${date}`);
  t.equal(Array.isArray(date), false, 'one Date header');
});
