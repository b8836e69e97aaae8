// A human-readable report of a watch check: a verdict line, one line per property, then its violations
// (as many as the result kept) and the compactions that ended watchers. JSON for tools.

import { WATCH_PROPERTIES, type WatchCheckResult, type WatchViolation } from './types.js';

function violationLine(v: WatchViolation): string {
  const tags = [
    v.watcher === undefined ? undefined : `watcher ${v.watcher}`,
    v.revision === undefined ? undefined : `revision ${v.revision}`,
    v.key === undefined ? undefined : `key ${JSON.stringify(v.key)}`,
  ].filter((t) => t !== undefined);
  return `    - ${tags.length > 0 ? `[${tags.join(', ')}] ` : ''}${v.message}`;
}

function textReport(result: WatchCheckResult): string {
  const st = result.stats;
  const lines = [
    result.ok ? 'watch guarantees hold' : 'watch guarantees violated',
    `${st.watchers} watchers, ${st.sessions} sessions, ${st.responses} responses, ${st.events} events, ${st.replays} replays, ${st.revisionsKnown} revisions known`,
  ];
  for (const name of WATCH_PROPERTIES) {
    const p = result.properties[name];
    const count = p.violations.length + p.omitted;
    lines.push(
      `${p.ok ? 'ok  ' : 'FAIL'} ${name}${p.ok ? '' : `: ${count} violation${count === 1 ? '' : 's'}`}`,
    );
    for (const v of p.violations) lines.push(violationLine(v));
    if (p.omitted > 0) lines.push(`    ... and ${p.omitted} more`);
  }
  if (result.compactions.length > 0) {
    lines.push(`compactions (not gaps): ${result.compactions.length}`);
    for (const c of result.compactions) {
      const what = c.session < 0 ? 'its replay' : `session ${c.session}`;
      lines.push(
        `    - watcher ${c.watcher} ${what} from revision ${c.startRevision}: compacted at ${c.compactRevision}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The result as text (default) or as indented JSON. */
export function formatWatchReport(result: WatchCheckResult, format: 'text' | 'json' = 'text'): string {
  return format === 'json' ? `${JSON.stringify(result, null, 2)}\n` : textReport(result);
}
