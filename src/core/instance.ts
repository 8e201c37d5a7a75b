/**
 * How many copies of ganpo this process has loaded, and which objects come from another copy.
 * `require('ganpo')` and `import 'ganpo'` in one Node process load the package's CommonJS and ES
 * module builds separately: two copies whose classes differ, so an object made by one fails the
 * other's `instanceof` checks. The count lives on `globalThis` under a registered symbol, shared by
 * every copy; each class carries its name under another, so an error can say what happened.
 */
const REGISTRY = Symbol.for('ganpo.loadedCopies');
const BRAND = Symbol.for('ganpo.className');

const shared = globalThis as Record<symbol, unknown>;
if (shared[REGISTRY] === undefined) shared[REGISTRY] = { copies: 0 };
const registry = shared[REGISTRY] as { copies: number };
registry.copies += 1;

/** Copies of ganpo loaded in this process so far (1 normally). */
export function loadedCopies(): number {
  return registry.copies;
}

/** Marks `cls`'s instances with `name`, so another copy of ganpo recognises them. */
export function brandClass(cls: { prototype: object }, name: string): void {
  Object.defineProperty(cls.prototype, BRAND, { value: name });
}

/**
 * What a refused argument was, for an error message: `'a GanpoRegularizer from another copy of
 * ganpo (…)'` when it is an instance of a ganpo class of another loaded copy, else its type.
 */
export function describeArgument(value: unknown, expected: { prototype: object }): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  const name = (value as Record<symbol, unknown>)[BRAND];
  if (typeof name === 'string' && !(value instanceof (expected as unknown as new () => object))) {
    return (
      `a ${name} from another copy of ganpo: this process has loaded ganpo ${registry.copies} times ` +
      "(require('ganpo') and import 'ganpo' load its CommonJS and ES module builds separately, and " +
      'their classes differ); load ganpo one way only, all import or all require'
    );
  }
  const ctor = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof ctor === 'string' && ctor !== 'Object' ? `a ${ctor}` : 'an object';
}
