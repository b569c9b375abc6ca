/**
 * Label sanitizing as mesos-dns does it: lower-case, keep [a-z0-9-], map `.` and `_` to `-`, drop
 * everything else, trim leading (and for RFC 952 leading digits) and trailing dashes, cut at the
 * length limit while skipping a run of dashes at the cut.
 */
export type LabelSpec = (name: string) => string;

function mapChars(name: string): string {
  let out = '';
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    if (c >= 65 && c <= 90) out += String.fromCharCode(c + 32);
    else if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) out += ch;
    else if (ch === '-' || ch === '.' || ch === '_') out += '-';
  }
  return out;
}

function trimLeft(s: string, chars: string): string {
  let i = 0;
  while (i < s.length && chars.includes(s[i]!)) i++;
  return s.slice(i);
}

function trimRight(s: string, chars: string): string {
  let i = s.length;
  while (i > 0 && chars.includes(s[i - 1]!)) i--;
  return s.slice(0, i);
}

/** Cut to maxlen; when the cut leaves trailing dashes, fill up from after the dash run instead. */
function trimCut(label: string, maxlen: number, left: string, right: string): string {
  const trim = trimLeft(label, left);
  const size = Math.min(trim.length, maxlen);
  const head = trimRight(trim.slice(0, size), right);
  if (head.length === size) return head;
  const tail = trimLeft(trim.slice(size), right);
  return tail.length ? head + tail.slice(0, size - head.length) : head;
}

export const rfc952: LabelSpec = (name) => trimCut(mapChars(name), 24, '-0123456789', '-');
export const rfc1123: LabelSpec = (name) => trimCut(mapChars(name), 63, '-', '-');

/** Sanitize each dot-separated part, dropping parts that end up empty. */
export function domainFrag(name: string, spec: LabelSpec): string {
  return name
    .split('.')
    .map(spec)
    .filter((l) => l !== '')
    .join('.');
}
