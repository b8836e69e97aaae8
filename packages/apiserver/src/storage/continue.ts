// List continue tokens in Kubernetes' format: base64url of {"v":"meta.k8s.io/v1","rv":N,"start":"<key>"},
// where start is the next key relative to the resource prefix and rv the revision of the first page,
// so that every page of a list reads the same snapshot.

export interface ContinueToken {
  rv: number;
  start: string;
}

export class InvalidContinueError extends Error {
  readonly code = 'InvalidContinue';
  constructor(why: string) {
    super(`continue key is not valid: ${why}`);
    this.name = 'InvalidContinueError';
  }
}

export function encodeContinue(token: ContinueToken): string {
  const json = JSON.stringify({ v: 'meta.k8s.io/v1', rv: token.rv, start: token.start });
  return Buffer.from(json, 'utf8').toString('base64url');
}

export function decodeContinue(text: string): ContinueToken {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidContinueError('incorrectly encoded');
  }
  const t = parsed as { v?: unknown; rv?: unknown; start?: unknown };
  if (typeof t !== 'object' || t === null || t.v !== 'meta.k8s.io/v1') {
    throw new InvalidContinueError('server does not recognize this encoded version');
  }
  if (typeof t.rv !== 'number' || !Number.isSafeInteger(t.rv) || t.rv <= 0) {
    throw new InvalidContinueError('incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  }
  if (
    typeof t.start !== 'string' ||
    t.start.length === 0 ||
    t.start.includes('..') ||
    t.start.startsWith('/')
  ) {
    throw new InvalidContinueError('continue key is not valid');
  }
  return { rv: t.rv, start: t.start };
}
