/**
 * UTC timestamps as text without V8's date formatting: `Date.prototype.toISOString` and `toUTCString`
 * make V8 set up its time zone cache through ICU on first use (a bare `node -e` calling either touches
 * 0.6 MiB more of the ICU data built into the `node` binary, and ICU's time zone code), which the agent
 * needed for nothing but its log lines and the HTTP `Date` header (issue #26). The same text, from
 * the epoch milliseconds and the UTC calendar (proleptic Gregorian; years 0-9999).
 */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Year, month (1-12) and day of the days since 1970-01-01 (H. Hinnant's civil_from_days). */
function civil(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

function parts(time: number): { y: number; mo: number; d: number; h: number; mi: number; s: number; milli: number; days: number } {
  const ms = Math.trunc(time);
  if (!Number.isFinite(ms) || ms < -62167219200000 || ms > 253402300799999) throw new RangeError(`time ${ms} is not between the years 0 and 9999`);
  const days = Math.floor(ms / 86400000);
  const inDay = ms - days * 86400000;
  const [y, mo, d] = civil(days);
  return { y, mo, d, h: Math.floor(inDay / 3600000), mi: Math.floor(inDay / 60000) % 60, s: Math.floor(inDay / 1000) % 60, milli: Math.floor(inDay % 1000), days };
}

/** What `new Date(ms).toISOString()` gives: `2026-12-07T22:55:55.123Z`. */
export function isoTime(ms: number = Date.now()): string {
  const p = parts(ms);
  return `${pad(p.y, 4)}-${pad(p.mo)}-${pad(p.d)}T${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}.${pad(p.milli, 3)}Z`;
}

/** What `new Date(ms).toUTCString()` gives, the HTTP date (RFC 9110 IMF-fixdate): `Mon, 07 Dec 2026 22:55:55 GMT`. */
export function httpDate(ms: number = Date.now()): string {
  const sec = Math.floor(ms / 1000);
  if (sec === lastSecond) return lastHttpDate;
  const p = parts(ms);
  lastSecond = sec;
  return (lastHttpDate = `${DAYS[(((p.days + 4) % 7) + 7) % 7]}, ${pad(p.d)} ${MONTHS[p.mo - 1]} ${pad(p.y, 4)} ${pad(p.h)}:${pad(p.mi)}:${pad(p.s)} GMT`);
}

/** The last HTTP date made (a server makes one per response; the text changes once a second). */
let lastSecond = NaN;
let lastHttpDate = '';
