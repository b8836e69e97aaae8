// Fault injection for chaos suites, served only by a member started with --enable-fault-injection:
// GET/PUT/DELETE /debug/faults on the client port sets message faults in the peer transport (drop to or
// from members, delay, random loss) and arms a crash point in the Ready loop (the process SIGKILLs itself
// just before or just after the sync of the log, the apply batch or a snapshot). A member without the
// flag has no such route at all (404), so production members cannot be disturbed through it.
import { writeSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pino from 'pino';
import type { TransportFaults } from '../transport/options.js';

export const CRASH_POINTS = [
  'before-log-sync',
  'after-log-sync',
  'before-apply-write',
  'after-apply-write',
  'before-snapshot',
  'after-snapshot',
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

export const FAULTS_PATH = '/debug/faults';

/** The largest delay accepted: beyond it the delay queue (bounded) would only drop messages. */
const DELAY_MS_MAX = 60_000;
/** Member ids listed in one dropTo/dropFrom. */
const IDS_MAX = 64;
const CRASH_AFTER_MAX = 1_000_000;
const BODY_BYTES_MAX = 64 * 1024;

/** The faults in force, as GET /debug/faults shows them (ids as decimal strings, like etcd's JSON). */
export interface FaultState {
  dropTo: string[];
  dropFrom: string[];
  delayMs: number;
  lossRate: number;
  crashAt: CrashPoint | null;
  /** Hits of crashAt left until the crash (1: the next one). */
  crashAfter: number;
}

/** A request body that is not a valid fault description; the API answers 400 with the message. */
export class FaultInputError extends Error {
  readonly code = 'FAULT_INPUT_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'FaultInputError';
  }
}

export function emptyFaultState(): FaultState {
  return { dropTo: [], dropFrom: [], delayMs: 0, lossRate: 0, crashAt: null, crashAfter: 0 };
}

function parseId(v: unknown, field: string): number {
  let n = Number.NaN;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\d{1,16}$/.test(v)) n = Number(v);
  else if (typeof v === 'string' && /^0x[0-9a-fA-F]{1,14}$/.test(v)) n = Number.parseInt(v.slice(2), 16);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new FaultInputError(
      `${field}: ${JSON.stringify(v)} is not a member id (a positive integer, a decimal string or "0x" hex)`,
    );
  }
  return n;
}

function parseIds(v: unknown, field: string): number[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new FaultInputError(`${field} must be an array of member ids`);
  if (v.length > IDS_MAX) throw new FaultInputError(`${field} lists more than ${IDS_MAX} ids`);
  return v.map((x) => parseId(x, field));
}

function parseNumber(v: unknown, field: string, min: number, max: number, integer: boolean): number {
  if (
    typeof v !== 'number' ||
    !Number.isFinite(v) ||
    v < min ||
    v > max ||
    (integer && !Number.isInteger(v))
  ) {
    const kind = integer ? 'an integer' : 'a number';
    throw new FaultInputError(`${field} must be ${kind} from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

const FIELDS = new Set(['dropTo', 'dropFrom', 'delayMs', 'lossRate', 'crashAt', 'crashAfter']);

/** Validates a PUT body; absent fields mean "no such fault" (a PUT replaces all faults). */
export function parseFaultRequest(body: unknown): FaultState {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new FaultInputError('the body must be a JSON object');
  }
  const o = body as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !FIELDS.has(k));
  if (unknown.length > 0) {
    throw new FaultInputError(`unknown field(s) ${unknown.join(', ')}; known: ${[...FIELDS].join(', ')}`);
  }
  let crashAt: CrashPoint | null = null;
  if (o.crashAt !== undefined && o.crashAt !== null) {
    if (!(CRASH_POINTS as readonly unknown[]).includes(o.crashAt)) {
      throw new FaultInputError(`crashAt must be one of ${CRASH_POINTS.join(', ')}`);
    }
    crashAt = o.crashAt as CrashPoint;
  }
  if (o.crashAfter !== undefined && crashAt === null) throw new FaultInputError('crashAfter needs crashAt');
  return {
    dropTo: parseIds(o.dropTo, 'dropTo').map(String),
    dropFrom: parseIds(o.dropFrom, 'dropFrom').map(String),
    delayMs: o.delayMs === undefined ? 0 : parseNumber(o.delayMs, 'delayMs', 0, DELAY_MS_MAX, true),
    lossRate: o.lossRate === undefined ? 0 : parseNumber(o.lossRate, 'lossRate', 0, 1, false),
    crashAt,
    crashAfter:
      crashAt === null
        ? 0
        : o.crashAfter === undefined
          ? 1
          : parseNumber(o.crashAfter, 'crashAfter', 1, CRASH_AFTER_MAX, true),
  };
}

/** Where the faults go: the peer transport (message faults) and the process (crashes). */
export interface FaultTargets {
  setTransportFaults(f: TransportFaults | null): void;
  /** Ends the process at once, as a power cut would; tests only replace it. */
  crash?(point: CrashPoint): void;
}

export class FaultInjector {
  private state: FaultState = emptyFaultState();

  constructor(
    private readonly targets: FaultTargets,
    private readonly log: pino.Logger,
  ) {}

  current(): FaultState {
    return { ...this.state, dropTo: [...this.state.dropTo], dropFrom: [...this.state.dropFrom] };
  }

  set(next: FaultState): void {
    this.state = next;
    const empty =
      next.dropTo.length + next.dropFrom.length === 0 && next.delayMs === 0 && next.lossRate === 0;
    this.targets.setTransportFaults(
      empty
        ? null
        : {
            dropTo: new Set(next.dropTo.map(Number)),
            dropFrom: new Set(next.dropFrom.map(Number)),
            delayMs: next.delayMs,
            lossRate: next.lossRate,
          },
    );
    this.log.warn({ faults: next }, 'fault injection: faults set');
  }

  clear(): void {
    this.set(emptyFaultState());
  }

  /** Called by the Ready loop at each crash point; kills the process on the armed point's n-th hit. */
  hit(point: CrashPoint): void {
    if (this.state.crashAt !== point) return;
    this.state.crashAfter--;
    if (this.state.crashAfter > 0) return;
    // Written synchronously: an asynchronous log line would die with the process.
    const line = JSON.stringify({ level: 60, time: Date.now(), msg: 'fault injection: crashing', point });
    try {
      writeSync(2, `${line}\n`);
    } catch {
      // Nowhere to report it; the crash itself is what matters.
    }
    if (this.targets.crash !== undefined) this.targets.crash(point);
    else process.kill(process.pid, 'SIGKILL');
  }

  /** Serves /debug/faults; returns false for every other path. */
  serveHttp(req: IncomingMessage, res: ServerResponse): boolean {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== FAULTS_PATH) return false;
    if (req.method === 'GET') {
      reply(res, 200, this.current());
    } else if (req.method === 'DELETE') {
      this.clear();
      reply(res, 200, this.current());
    } else if (req.method === 'PUT') {
      readBody(req)
        .then((text) => {
          this.set(parseFaultRequest(parseJson(text)));
          reply(res, 200, this.current());
        })
        .catch((e: Error) => reply(res, e instanceof FaultInputError ? 400 : 500, { message: e.message }));
    } else {
      res.setHeader('Allow', 'GET, PUT, DELETE');
      reply(res, 405, { message: `method ${req.method} not allowed on ${FAULTS_PATH}` });
    }
    return true;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FaultInputError(`the body is not valid JSON: ${(e as Error).message}`);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > BODY_BYTES_MAX) {
        reject(new FaultInputError(`the body is larger than ${BODY_BYTES_MAX} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}
