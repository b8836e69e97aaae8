// The visual report for a non-linearizable history: a self-contained HTML page with, per failing
// partition, an SVG timeline (one row per process, one bar per operation from call to return), the
// longest partial linearization numbered in order, and the operation it could not get past.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckResult, Failure } from './check.js';
import type { TimedOp } from './model.js';

/** Operations drawn per partition at most; larger partitions show a window around the stuck op. */
const DRAWN_OPS_MAX = 300;
const ROW_PX = 34;
const RANK_PX = 22;
const MARGIN_LEFT_PX = 90;
const MARGIN_TOP_PX = 24;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmtNs(t: number): string {
  return Number.isFinite(t) ? `${t} ns` : 'never (unknown outcome)';
}

/** Indexes (into failure.ops) to draw: all of them, or a window around the stuck operation. */
function drawnOps<O extends TimedOp>(f: Failure<O>): number[] {
  const byCall = f.ops.map((_, i) => i).sort((a, b) => f.ops[a]!.callNs - f.ops[b]!.callNs || a - b);
  if (byCall.length <= DRAWN_OPS_MAX) return byCall;
  const at = Math.max(0, byCall.indexOf(f.stuck ?? 0));
  const from = Math.max(0, Math.min(at - DRAWN_OPS_MAX + 50, byCall.length - DRAWN_OPS_MAX));
  return byCall.slice(from, from + DRAWN_OPS_MAX);
}

function timeline<O extends TimedOp>(f: Failure<O>, shown: readonly number[]): string {
  const order = new Map<number, number>(f.linearization.map((op, k) => [op, k + 1]));
  const processes = [...new Set(shown.map((i) => f.ops[i]!.process))].sort((a, b) => a - b);
  const times = [
    ...new Set(shown.flatMap((i) => [f.ops[i]!.callNs, f.ops[i]!.returnNs]).filter(Number.isFinite)),
  ].sort((a, b) => a - b);
  const rank = new Map(times.map((t, k) => [t, k]));
  const endX = MARGIN_LEFT_PX + (times.length + 1) * RANK_PX;
  const x = (t: number): number => (Number.isFinite(t) ? MARGIN_LEFT_PX + rank.get(t)! * RANK_PX : endX);
  const width = endX + 40;
  const height = MARGIN_TOP_PX + processes.length * ROW_PX + 10;
  const parts: string[] = [];
  processes.forEach((p, row) => {
    const y = MARGIN_TOP_PX + row * ROW_PX;
    parts.push(`<text x="4" y="${y + 20}" class="proc">process ${p}</text>`);
    parts.push(`<line x1="${MARGIN_LEFT_PX}" y1="${y + 30}" x2="${endX}" y2="${y + 30}" class="grid"/>`);
  });
  for (const i of shown) {
    const op = f.ops[i]!;
    const y = MARGIN_TOP_PX + processes.indexOf(op.process) * ROW_PX + 4;
    const x0 = x(op.callNs);
    const w = Math.max(8, x(op.returnNs) - x0 - 2);
    const k = order.get(i);
    const cls = i === f.stuck ? 'op stuck' : k !== undefined ? 'op lin' : 'op';
    const dash = Number.isFinite(op.returnNs) ? '' : ' unknown';
    const state = k === undefined ? '' : `\nlinearized #${k}; state after: ${f.states[k] ?? ''}`;
    const tip = `${f.labels[i]} (process ${op.process}, op ${op.id})\ncall ${fmtNs(op.callNs)}\nreturn ${fmtNs(op.returnNs)}${state}`;
    parts.push(
      `<g><title>${esc(tip)}</title><rect x="${x0}" y="${y}" width="${w}" height="22" rx="4" class="${cls}${dash}"/>` +
        `<text x="${x0 + 4}" y="${y + 15}" class="label">${esc(k === undefined ? '' : `#${k} `)}${esc(f.labels[i] ?? '')}</text></g>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
}

function linearizationTable<O extends TimedOp>(f: Failure<O>): string {
  const rows = [`<tr><td>0</td><td>(initial)</td><td></td><td>${esc(f.states[0] ?? '')}</td></tr>`];
  f.linearization.forEach((i, k) => {
    const op = f.ops[i]!;
    rows.push(
      `<tr><td>${k + 1}</td><td>${esc(f.labels[i] ?? '')}</td><td>${op.process}</td><td>${esc(f.states[k + 1] ?? '')}</td></tr>`,
    );
  });
  return `<table><tr><th>#</th><th>operation</th><th>process</th><th>state after</th></tr>${rows.join('')}</table>`;
}

function section<O extends TimedOp>(f: Failure<O>): string {
  const shown = drawnOps(f);
  const stuck = f.stuck === undefined ? undefined : f.ops[f.stuck];
  const stuckText =
    stuck === undefined
      ? ''
      : `<p class="stuck-text">Stuck at <b>${esc(f.labels[f.stuck!] ?? '')}</b> (process ${stuck.process}, op ${stuck.id}, ` +
        `returned at ${esc(fmtNs(stuck.returnNs))}): no operation can be linearized next, in the state ` +
        `<code>${esc(f.states[f.linearization.length] ?? '')}</code>, before it returns.</p>`;
  const window =
    shown.length < f.ops.length
      ? `<p>Showing ${shown.length} of ${f.ops.length} operations, around the stuck one.</p>`
      : '';
  return (
    `<h2>${f.key === '' ? '(no key)' : `key ${esc(JSON.stringify(f.key))}`}: not linearizable</h2>` +
    `<p>${f.ops.length} operations; the longest partial linearization found has ${f.linearization.length} ` +
    `(green, numbered in order).</p>${stuckText}${window}<div class="scroll">${timeline(f, shown)}</div>` +
    `<details><summary>partial linearization</summary>${linearizationTable(f)}</details>`
  );
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:20px;color:#222}
.scroll{overflow-x:auto;border:1px solid #ddd;padding:4px}
.proc{font-size:12px;fill:#555}.grid{stroke:#eee}
.op{fill:#e4e4e4;stroke:#999}.op.lin{fill:#c9ebc9;stroke:#3a8a3a}.op.stuck{fill:#f6b3b3;stroke:#c00;stroke-width:2}
.op.unknown{stroke-dasharray:4 3}.label{font-size:11px;font-family:monospace;pointer-events:none}
table{border-collapse:collapse;font-family:monospace;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}`;

/** The report page for a check result (meaningful when it has failures). */
export function renderReport<O extends TimedOp>(result: CheckResult<O>, title: string): string {
  const failing = result.failures.map((f) => esc(JSON.stringify(f.key))).join(', ');
  return (
    `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}: ${esc(result.verdict)}</title>` +
    `<style>${STYLE}</style></head><body><h1>${esc(title)}: ${esc(result.verdict)}</h1>` +
    `<p>Model <code>${esc(result.model)}</code>; ${result.partitions.length} partitions; failing: ${failing || 'none'}. ` +
    'Bars run from call to return; dashed bars have an unknown outcome (they may take effect at any time after ' +
    'their call, or never). Hover a bar for details.</p>' +
    `${result.failures.map(section).join('')}</body></html>\n`
  );
}

/**
 * Writes the report for a non-linearizable result to `<outDir>/<name>.linearizability.html` and
 * returns its path; returns undefined (and writes nothing) when there is no failure to show.
 */
export function writeReport<O extends TimedOp>(
  result: CheckResult<O>,
  outDir: string,
  name = 'history',
): string | undefined {
  if (result.failures.length === 0) return undefined;
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, `${name}.linearizability.html`);
  writeFileSync(path, renderReport(result, name));
  return path;
}
