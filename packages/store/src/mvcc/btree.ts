// sorted-btree is a CommonJS package whose class is `exports.default`. Node's ESM loader hands us
// module.exports as the default import while vitest's interop may hand us the class itself, so
// pick whichever one is the constructor.
import BTreeModule from 'sorted-btree';

type BTreeClass = typeof BTreeModule.default;

const imported = BTreeModule as unknown as BTreeClass | { default: BTreeClass };

export const BTree: BTreeClass = typeof imported === 'function' ? imported : imported.default;
export type BTree<K, V> = InstanceType<typeof BTreeModule.default<K, V>>;
