// The display `up` shows while it starts the cluster: one line per component (starting → healthy,
// with the time it took). On a terminal the block is redrawn in place; otherwise (a log, a CI job)
// a plain line is printed whenever a component changes state.
import { assert } from './errors.js';

/** Where the launcher writes. */
export interface ClusterIo {
  /** A line of results (stdout). */
  out(line: string): void;
  /** A line of progress or diagnostics (stderr). */
  err(line: string): void;
  /** Raw writes to stderr when it is a terminal, for the live display; absent means plain lines. */
  readonly tty?: { write(text: string): void };
}

export type RowState = 'waiting' | 'starting' | 'running' | 'healthy' | 'failed' | 'stopping';

interface Row {
  readonly name: string;
  state: RowState;
  startedAtMs: number;
  endedAtMs: number | null;
  detail: string;
}

const NAME_WIDTH = 13;
const STATE_WIDTH = 9;

export class ProgressBoard {
  private readonly rows: Row[];
  private drawnLines = 0;

  constructor(
    private readonly io: ClusterIo,
    names: readonly string[],
    private readonly nowMs: () => number = Date.now,
  ) {
    assert(names.length > 0, 'a board has rows');
    this.rows = names.map((name) => ({
      name,
      state: 'waiting',
      startedAtMs: nowMs(),
      endedAtMs: null,
      detail: '',
    }));
  }

  /** Changes a row; a plain-line display prints it when the state (not just the detail) changed. */
  set(name: string, state: RowState, detail = ''): void {
    const row = this.rows.find((r) => r.name === name);
    assert(row !== undefined, `a row for ${name}`);
    const changed = row.state !== state;
    if (changed && (state === 'starting' || state === 'stopping')) row.startedAtMs = this.nowMs();
    row.endedAtMs = state === 'healthy' || state === 'failed' ? this.nowMs() : null;
    row.state = state;
    row.detail = detail;
    if (this.io.tty === undefined) {
      if (changed && state !== 'waiting') this.io.err(this.line(row).trim());
    } else this.render();
  }

  /** Redraws the block on a terminal (the elapsed times move); a no-op for plain lines. */
  render(): void {
    const tty = this.io.tty;
    if (tty === undefined) return;
    const up = this.drawnLines > 0 ? `\x1b[${this.drawnLines}A` : '';
    tty.write(up + this.rows.map((r) => `\r${this.line(r)}\x1b[K\n`).join(''));
    this.drawnLines = this.rows.length;
  }

  private line(row: Row): string {
    // A plain line for a component just started says nothing useful about time; the live display
    // shows the clock running.
    const timed = row.state !== 'waiting' && (this.io.tty !== undefined || row.endedAtMs !== null);
    const elapsedMs = (row.endedAtMs ?? this.nowMs()) - row.startedAtMs;
    const shown = timed ? `${(elapsedMs / 1000).toFixed(1)}s` : '';
    const note = row.detail === '' ? '' : `  (${row.detail})`;
    return `  ${row.name.padEnd(NAME_WIDTH)} ${row.state.padEnd(STATE_WIDTH)} ${shown}${note}`;
  }
}
