// The table of docs/performance.md that bench/run-all.mjs rewrites: everything between the two
// markers is generated (a note on when and where it was measured, then one row per BENCH_RESULT).
export const START = '<!-- bench:table:start -->';
export const END = '<!-- bench:table:end -->';
const HEADER = ['| metric | figure | baseline | ratio | target | command to reproduce |', '|---|---|---|---|---|---|'];

const num = (x) => {
  if (typeof x !== 'number' || !Number.isFinite(x)) return String(x ?? '-');
  const abs = Math.abs(x);
  return x.toLocaleString('en', { maximumFractionDigits: abs >= 100 ? 0 : abs >= 10 ? 1 : 2 });
};
const cell = (s) => String(s).replaceAll('|', '\\|').replaceAll('\n', ' ');

/** A BENCH_RESULT object as the table's cells (already formatted). */
export function cellsOf(r) {
  const unit = r.unit ? ` ${r.unit}` : '';
  const baseline = typeof r.baseline === 'number' ? `${num(r.baseline)}${unit}` : (r.baseline ?? '-');
  const ratio = typeof r.ratio === 'number' ? `${r.ratio.toFixed(2)}x` : '-';
  return [r.metric, `${num(r.figure)}${unit}`, baseline, ratio, r.target ?? '-', `\`${r.command ?? '-'}\``];
}

/** Rows (cells) and notes of the table in doc, to keep what a partial run did not measure. */
export function rowsOfTable(doc) {
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) return [];
  const rows = [];
  for (const line of doc.slice(a + START.length, b).split('\n')) {
    if (!line.startsWith('| ') || HEADER.includes(line)) continue;
    const cells = line
      .slice(2, -2)
      .split(/(?<!\\) \| /)
      .map((c) => c.replaceAll('\\|', '|'));
    if (cells.length === 6) rows.push({ cells, command: cells[5].replaceAll('`', '') });
  }
  return rows;
}

/** Notes ("Measured ...") of the table in doc. */
export function notesOfTable(doc) {
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) return [];
  return doc
    .slice(a + START.length, b)
    .split('\n')
    .filter((l) => l.startsWith('Measured '));
}

/** The generated block: notes, then the header and a row per entry (BENCH_RESULT or kept cells). */
export function renderTable(entries, notes) {
  const rows = entries.map((e) => `| ${(e.cells ?? cellsOf(e)).map(cell).join(' | ')} |`);
  return ['', ...notes.flatMap((n) => [n, '']), ...HEADER, ...rows, ''].join('\n');
}

/** doc with the block between the markers replaced (the markers appended when missing). */
export function replaceTable(doc, block) {
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) return `${doc.trimEnd()}\n\n${START}${block}${END}\n`;
  return `${doc.slice(0, a + START.length)}${block}${doc.slice(b)}`;
}
