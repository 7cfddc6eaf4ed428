// CI's check on a load run: `node loadtests/src/check-report.ts [results/latest]` exits 1 unless
// report.md exists and every row of rows.json carries a validity verdict and a seed verdict
// (valid or not: a model falling over is a result; a row without a verdict is a broken pipeline),
// and the report rebuilds the seed's table.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isEntry } from './entry.ts';

interface CheckedRow {
  model?: unknown;
  level?: { name?: unknown };
  validity?: { valid?: unknown; reasons?: unknown };
  verdict?: { verdict?: unknown };
}

/** Problems found in a results folder; empty when the run is complete. */
export function checkRun(dir: string): string[] {
  const problems: string[] = [];
  if (!existsSync(join(dir, 'report.md'))) problems.push(`${dir}/report.md is missing`);
  if (!existsSync(join(dir, 'rows.json'))) return [...problems, `${dir}/rows.json is missing`];
  const rows = JSON.parse(readFileSync(join(dir, 'rows.json'), 'utf8')) as CheckedRow[];
  if (!Array.isArray(rows) || rows.length === 0) return [...problems, 'rows.json has no rows'];
  const report = existsSync(join(dir, 'report.md')) ? readFileSync(join(dir, 'report.md'), 'utf8') : '';
  if (report !== '' && !report.includes("## The seed's table")) problems.push("report.md has no seed's table (## The seed's table)");
  for (const row of rows) {
    const name = `${String(row.model)} ${String(row.level?.name)}`;
    const v = row.validity;
    if (typeof v?.valid !== 'boolean' || !Array.isArray(v.reasons) || (v.valid === false && v.reasons.length === 0))
      problems.push(`${name}: no validity verdict`);
    if (!['confirmed', 'refuted', 'differs'].includes(String(row.verdict?.verdict))) problems.push(`${name}: no verdict against the seed`);
    if (!report.includes(`| ${String(row.model)} |`)) problems.push(`${name}: not in report.md`);
  }
  return problems;
}

if (isEntry(import.meta.url)) {
  const dir = resolve(process.argv[2] ?? 'results/latest');
  const problems = checkRun(dir);
  for (const p of problems) console.error(`load report check: ${p}`);
  if (problems.length === 0) console.log(`load report check: ${dir} is complete (every row has a validity verdict)`);
  process.exit(problems.length === 0 ? 0 : 1);
}
