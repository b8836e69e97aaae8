// Small builders shared by the log and storage tests.
import { RaftError, type RaftErrorCode } from '../src/errors.js';
import {
  type ConfState,
  EMPTY_BYTES,
  type Entry,
  EntryType,
  emptyConfState,
  type Snapshot,
} from '../src/types.js';

/** A normal entry with `dataLen` zero bytes of payload. */
export function ent(index: number, term: number, dataLen = 0): Entry {
  return { index, term, type: EntryType.Normal, data: dataLen === 0 ? EMPTY_BYTES : new Uint8Array(dataLen) };
}

export function snap(index: number, term: number, confState: ConfState = emptyConfState()): Snapshot {
  return { data: EMPTY_BYTES, metadata: { index, term, confState } };
}

/** (index, term) pairs, which is all most tables care about. */
export function ids(ents: readonly Entry[]): [number, number][] {
  return ents.map((e) => [e.index, e.term]);
}

/** The RaftError code f throws, or 'ok'; any other exception propagates. */
export function raftErrorCode(f: () => unknown): RaftErrorCode | 'ok' {
  try {
    f();
    return 'ok';
  } catch (err) {
    if (err instanceof RaftError) return err.code;
    throw err;
  }
}
