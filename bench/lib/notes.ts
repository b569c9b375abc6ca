/** Hand-written notes on a generated benchmark page, kept when `npm run bench` rewrites it. */

export const NOTES = '<!-- Notes below are written by hand; npm run bench keeps them under the new figures. -->';

/** The hand-written tail of an existing page (from the NOTES marker on), or '' when there is none. */
export function keptNotes(page: string): string {
  const i = page.indexOf(NOTES);
  return i < 0 ? '' : page.slice(i);
}
