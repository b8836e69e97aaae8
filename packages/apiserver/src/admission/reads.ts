// Bounded reads of the store for admission: a whole prefix, page by page at one revision.

import type { ObjectStorage, Stored } from '../types.js';

const pageItems = 1_000;
/** A namespace with more objects of one resource than pages × items is refused rather than read forever. */
const pagesMax = 200;

export class ListTooLargeError extends Error {
  readonly code = 'ADMISSION_LIST_TOO_LARGE';
  constructor(readonly prefix: string) {
    super(`more than ${pageItems * pagesMax} objects under ${prefix}`);
    this.name = 'ListTooLargeError';
  }
}

/** Every object under `prefix` (which ends with "/"), read at one revision. */
export async function listAll(storage: ObjectStorage, prefix: string): Promise<Stored[]> {
  const items: Stored[] = [];
  let continueToken: string | undefined;
  for (let page = 0; page < pagesMax; page++) {
    const res = await storage.list(
      prefix,
      continueToken === undefined ? { limit: pageItems } : { limit: pageItems, continueToken },
    );
    items.push(...res.items);
    if (res.continueToken === undefined) return items;
    continueToken = res.continueToken;
  }
  throw new ListTooLargeError(prefix);
}

/** The key of an object, as the REST layer stores it. */
export function objectKey(prefix: string, storageResource: string, namespace: string, name: string): string {
  return namespace === ''
    ? `${prefix}/${storageResource}/${name}`
    : `${prefix}/${storageResource}/${namespace}/${name}`;
}
