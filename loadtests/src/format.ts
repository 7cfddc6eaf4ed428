// How report.md's tables write a figure: one definition for the report and the seed's table,
// so the same quantity reads the same in both. (The README's generator rounds its own way.)

/** Milliseconds: one decimal under 100 ms, whole above. */
export const ms = (v: number) => (v < 100 ? v.toFixed(1) : v.toFixed(0));
/** A percentage with two decimals; '<0.01' rather than a zero that was not. */
export const pct = (p: number) => (p === 0 ? '0' : p < 0.01 ? '<0.01' : p.toFixed(2));
/** A count with thousands separators, 'n/a' when not recorded. */
export const num = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : v.toLocaleString('en-US'));
/** Text safe inside a markdown table cell. */
export const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
