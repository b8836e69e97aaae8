// Where the CLI writes, and its clock: passed in so that tests can capture output and fake time.

export interface Io {
  /** A line of results (stdout). */
  out(line: string): void;
  /** A line of progress or diagnostics (stderr). */
  err(line: string): void;
  /** Rewrites the current progress line in place when stderr is a terminal; otherwise prints it. */
  progress(line: string): void;
  /** Ends a progress line started with progress(). */
  progressDone(): void;
  /** Milliseconds from an arbitrary origin. */
  clock(): number;
}

export function processIo(): Io {
  // A closed pipe (`keelson sim run ... | head`) is not an error worth a stack trace: stop quietly.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    });
  }
  const tty = process.stderr.isTTY === true;
  let open = false;
  return {
    out: (line) => {
      process.stdout.write(`${line}\n`);
    },
    err: (line) => {
      process.stderr.write(`${line}\n`);
    },
    progress: (line) => {
      if (tty) {
        process.stderr.write(`\r${line}\x1b[K`);
        open = true;
      } else process.stderr.write(`${line}\n`);
    },
    progressDone: () => {
      if (open) process.stderr.write('\n');
      open = false;
    },
    clock: () => performance.now(),
  };
}

/** An Io that records everything (for tests). */
export function memoryIo(): Io & { readonly stdout: string[]; readonly stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  let t = 0;
  return {
    stdout,
    stderr,
    out: (l) => stdout.push(l),
    err: (l) => stderr.push(l),
    progress: (l) => stderr.push(l),
    progressDone: () => {},
    clock: () => (t += 250),
  };
}
