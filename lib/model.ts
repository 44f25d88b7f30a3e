/**
 * The TypeScript stand-in for the assignment's metaclass: every class that extends {@link Model}
 * gets a static, read-only `COLLECTION` derived from its *own* class name, first letter
 * upper-cased (`Account` → `Account`, `paymentOrder` → `PaymentOrder`).
 *
 * Why a base-class getter and not a TC39 class decorator: the test runner (Vite 8 / oxc) does not
 * lower standard decorators, and Node 20 cannot run them, so a decorated model would not load in
 * tests. A static getter is resolved against `this`, the class it is read from, so a subclass never
 * sees its parent's name and nothing has to be remembered per class.
 *
 * Minification: `this.name` is the class's runtime name, which esbuild renames when minifying
 * unless `keepNames` is on. The production bundle options ({@link BUNDLE_OPTIONS} in
 * `scripts/build-options.ts`) set it, and a test bundles this module with exactly those options.
 *
 * @example
 * ```ts
 * class paymentOrder extends Model {}
 * paymentOrder.COLLECTION; // 'PaymentOrder'
 * ```
 */
// biome-ignore lint/complexity/noStaticOnlyClass: a base class is the point: subclasses inherit the getter.
export abstract class Model {
  /** The MongoDB collection holding documents of this class. Read-only: there is no setter. */
  static get COLLECTION(): string {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass being read, which is what makes each name its own.
    return collectionName(this.name);
  }
}

/**
 * The collection name for a class name: the first character (Unicode code point) upper-cased, the
 * rest unchanged. Throws for an empty name, which only an anonymous class expression can have.
 */
export function collectionName(className: string): string {
  const first = className.codePointAt(0);
  if (first === undefined) {
    throw new TypeError('A model class needs a name to derive its COLLECTION from');
  }
  const head = String.fromCodePoint(first);
  return head.toUpperCase() + className.slice(head.length);
}
