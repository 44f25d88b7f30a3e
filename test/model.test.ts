import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Account } from '../lib/account.js';
import { collectionName, Model } from '../lib/model.js';
import { BUNDLE_OPTIONS } from '../scripts/build-options.js';

class paymentOrder extends Model {}
class premiumAccount extends Account {}
class Лицевойсчёт extends Model {}

describe('Model.COLLECTION', () => {
  it.each([
    ['Account', Account, 'Account'],
    ['paymentOrder', paymentOrder, 'PaymentOrder'],
    ['premiumAccount (a subclass of Account)', premiumAccount, 'PremiumAccount'],
    ['Лицевойсчёт (non-ASCII)', Лицевойсчёт, 'Лицевойсчёт'],
  ])('is derived from the class name of %s', (_name, model, expected) => {
    expect(model.COLLECTION).toBe(expected);
  });

  it('gives a subclass its own name, leaving the parent unchanged', () => {
    expect(premiumAccount.COLLECTION).toBe('PremiumAccount');
    expect(Account.COLLECTION).toBe('Account');
  });

  it('is read-only', () => {
    expect(Reflect.set(Account, 'COLLECTION', 'Other')).toBe(false);
    expect(Account.COLLECTION).toBe('Account');
  });
});

describe('collectionName', () => {
  it.each([
    ['account', 'Account'],
    ['paymentOrder', 'PaymentOrder'],
    ['ALLCAPS', 'ALLCAPS'],
    ['x', 'X'],
    ['_private', '_private'],
    ['счёт', 'Счёт'],
    ['𐐨word', '𐐀word'],
  ])('turns %j into %j', (className, expected) => {
    expect(collectionName(className)).toBe(expected);
  });

  it('refuses an empty class name', () => {
    expect(() => collectionName('')).toThrow(TypeError);
  });
});

describe('COLLECTION in a minified esbuild bundle', () => {
  let outDir = '';

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'model-bundle-'));
    const lib = resolve(import.meta.dirname, '../lib');
    await writeFile(
      join(outDir, 'entry.ts'),
      [
        `import { Model } from ${JSON.stringify(join(lib, 'model.ts'))};`,
        `import { Account } from ${JSON.stringify(join(lib, 'account.ts'))};`,
        'export { Account };',
        'export class paymentOrder extends Model {}',
        'export class premiumAccount extends Account {}',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  async function bundle(name: string, keepNames: boolean): Promise<Record<string, unknown>> {
    const outfile = join(outDir, `${name}.mjs`);
    await build({
      ...BUNDLE_OPTIONS,
      keepNames,
      entryPoints: [join(outDir, 'entry.ts')],
      outfile,
      logLevel: 'silent',
    });
    return (await import(/* @vite-ignore */ pathToFileURL(outfile).href)) as Record<string, unknown>;
  }

  function collectionOf(module: Record<string, unknown>, exported: string): unknown {
    const model = module[exported];
    expect(typeof model).toBe('function');
    return Reflect.get(Object(model), 'COLLECTION');
  }

  it('keeps the class names with the production options (BUNDLE_OPTIONS)', async () => {
    expect(BUNDLE_OPTIONS.minify).toBe(true);
    const module = await bundle('production', BUNDLE_OPTIONS.keepNames);
    expect(collectionOf(module, 'Account')).toBe('Account');
    expect(collectionOf(module, 'paymentOrder')).toBe('PaymentOrder');
    expect(collectionOf(module, 'premiumAccount')).toBe('PremiumAccount');
  });

  it('would lose them without keepNames, which is why BUNDLE_OPTIONS sets it', async () => {
    const module = await bundle('without-keep-names', false);
    expect(collectionOf(module, 'paymentOrder')).not.toBe('PaymentOrder');
  });
});
