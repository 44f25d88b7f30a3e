// esbuild plugins for the Lambda bundles (serverless-esbuild `plugins`). They keep every bundle under
// 1 MiB minified and its cold start short: by leaving out code the functions never run, by moving
// what they seldom run into a file of its own, and by loading the runtime's AWS SDK the cheap way. CommonJS because serverless-esbuild loads this file
// with require(); it receives the Serverless instance.
'use strict';

const path = require('node:path');

/** The packages serverless.yml `custom.esbuild.exclude` leaves to the Lambda runtime: the AWS SDK v3. */
const RUNTIME_AWS_SDK = /^@(?:aws-sdk|smithy)\//;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * The export names of an SDK package, read from the copy installed here (the runtime has the same
 * API), or undefined when it is not installed.
 */
function sdkExportNames(specifier, resolveDir) {
  let file;
  try {
    file = require.resolve(specifier, { paths: [resolveDir] });
  } catch {
    return undefined;
  }
  return Object.keys(require(file)).filter((name) => IDENTIFIER.test(name) && name !== 'default');
}

/**
 * The nodejs22.x runtime provides the AWS SDK v3 as CommonJS, and the bundles leave it out. An
 * ES module bundle would `import` it, and Node then loads every SDK file through its ES module to
 * CommonJS bridge, which lexes each file for its export names and detects its module format on
 * top of compiling it: measured here, DynamoDB + S3 load in about 85 ms with `require` and 225 ms
 * with `import`. So each SDK import becomes a `require` (the banner defines `require` in the
 * bundle), made when the importing module is evaluated:
 * - modules reached only through `await import()` (the SSM parameters client, used for
 *   MONGODB_URI_PARAMETER) load their SDK client when called, not at cold start;
 * - an import nothing uses is dropped (`sideEffects: false`; the SDK's packages declare themselves
 *   free of side effects), so a function loads only the clients it uses;
 * - each name is read off the required module once (a client package exports 500-700 names, and
 *   esbuild's generic CommonJS interop would copy them all, at every import site, at cold start).
 * Must stay in step with `exclude`: a package matched here is never bundled.
 */
const runtimeAwsSdkViaRequire = {
  name: 'runtime-aws-sdk-via-require',
  setup(build) {
    build.onResolve({ filter: RUNTIME_AWS_SDK }, (args) =>
      args.kind === 'require-call'
        ? { path: args.path, external: true }
        : {
            path: args.path,
            namespace: 'runtime-aws-sdk',
            sideEffects: false,
            pluginData: { resolveDir: args.resolveDir },
          },
    );
    build.onLoad({ filter: /.*/, namespace: 'runtime-aws-sdk' }, (args) => {
      const load = `require(${JSON.stringify(args.path)})`;
      const names = sdkExportNames(args.path, args.pluginData.resolveDir);
      // Not installed at build time: the generic interop still works, at its usual cost.
      if (names === undefined) return { contents: `module.exports = ${load};`, loader: 'js' };
      return {
        contents: [
          `const sdk = ${load};`,
          // Pure, so esbuild keeps only the names the bundle uses.
          ...names.map((name) => `export const ${name} = /* @__PURE__ */ (() => sdk.${name})();`),
        ].join('\n'),
        loader: 'js',
      };
    });
  },
};

/**
 * `bson` ships the same library as CommonJS (which the MongoDB driver `require`s) and as an ES
 * module (which our code `import`s), so a bundle would carry and initialise both (~60 KB more).
 * Every import takes the CommonJS build the driver uses; lib/matching/bson-values.ts already
 * accepts values from either copy, so nothing else changes.
 */
const singleBson = {
  name: 'single-bson',
  setup(build) {
    build.onResolve({ filter: /^bson$/ }, async (args) => {
      if (args.kind === 'require-call') return undefined;
      const cjs = await build.resolve(args.path, { kind: 'require-call', resolveDir: args.resolveDir });
      return cjs.errors.length > 0 ? { errors: cjs.errors } : { path: cjs.path };
    });
  },
};

/**
 * zod registers all ~50 message locales on its `z.locales` namespace, so importing `z` bundles
 * them all (~300 KB). Only English is used: the others become empty locales.
 */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(build) {
    build.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/][a-zA-Z-]+\.js$/ }, (args) => {
      const name = path.basename(args.path, '.js');
      if (name === 'en' || name === 'index') return undefined;
      return {
        contents: 'export default function () { return { localeError: () => undefined }; }',
        loader: 'js',
      };
    });
  },
};

/**
 * The MongoDB driver parses connection strings with the `whatwg-url` package, whose IDNA tables
 * (`tr46`) weigh ~290 KB. Node's built-in URL implements the same WHATWG URL standard.
 */
const nativeWhatwgUrl = {
  name: 'native-whatwg-url',
  setup(build) {
    build.onResolve({ filter: /^whatwg-url$/ }, () => ({
      path: 'whatwg-url',
      namespace: 'native-whatwg-url',
    }));
    build.onLoad({ filter: /.*/, namespace: 'native-whatwg-url' }, () => ({
      contents: 'module.exports = { URL: globalThis.URL, URLSearchParams: globalThis.URLSearchParams };',
      loader: 'js',
    }));
  },
};

/**
 * Deployed stages always read MongoDB (MONGODB_URI_PARAMETER is set by serverless.yml), so the
 * embedded document store and its query engine (mingo, ~280 KB) are left out of their bundles.
 * The offline `local` stage keeps them: that is where the embedded store is used.
 */
const withoutEmbeddedStore = {
  name: 'without-embedded-store',
  setup(build) {
    build.onResolve({ filter: /[\\/]embedded-store\.js$/ }, (args) =>
      args.importer.includes(`${path.sep}lib${path.sep}store${path.sep}`)
        ? { path: 'embedded-store', namespace: 'without-embedded-store' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'without-embedded-store' }, () => ({
      contents: [
        'export class EmbeddedDocumentStore {',
        '  constructor() {',
        "    throw new Error('The embedded document store is not part of deployed bundles: set MONGODB_URI_PARAMETER or MONGODB_URI');",
        '  }',
        '}',
      ].join('\n'),
      loader: 'js',
    }));
  },
};

/** The part of exceljs the workers use (lib/runs/workbook.ts), and the file deployed stages build it into. */
const WORKBOOK_WRITER = /^exceljs\/lib\/stream\/xlsx\/workbook-writer\.js$/;
const WORKBOOK_WRITER_FILE = 'exceljs-workbook-writer.mjs';

/**
 * exceljs' streaming workbook writer (result.xlsx) is about 470 KB minified: inside the worker
 * bundles it would pass the 1 MiB budget. Deployed stages build it into a file of its own,
 * `exceljs-workbook-writer.mjs`, placed beside the bundle that imports it (the workers import it
 * with `await import()`, so it loads when a run writes its workbook, never at cold start). In a
 * serverless-esbuild build the file goes to `__only_<function>/`, so only the packages of the
 * functions whose bundle imports it carry it; in any other build (bench/bundles.ts) it is written
 * beside the output file.
 */
function workbookWriterAlongside(serverless) {
  const functions = serverless.service.functions ?? {};
  return {
    name: 'workbook-writer-alongside',
    setup(build) {
      let imported = false;
      build.onStart(() => {
        imported = false;
      });
      build.onResolve({ filter: WORKBOOK_WRITER }, () => {
        imported = true;
        return { path: `./${WORKBOOK_WRITER_FILE}`, external: true };
      });
      build.onEnd(async (result) => {
        if (!imported || result.errors.length > 0) return;
        const options = build.initialOptions;
        const outdir = options.outdir ?? path.dirname(options.outfile);
        const writer = {
          entryPoints: [require.resolve('exceljs/lib/stream/xlsx/workbook-writer.js')],
          bundle: true,
          minify: options.minify,
          keepNames: options.keepNames,
          format: 'esm',
          platform: 'node',
          target: options.target,
          banner: options.banner,
          sourcemap: options.sourcemap,
          sourcesContent: options.sourcesContent,
          logLevel: 'warning',
        };
        const entry = String(options.entryPoints?.[0] ?? '');
        const handlerFile = entry.replace(/\.[^./]+$/, '');
        const aliases = Object.keys(functions).filter((alias) =>
          String(functions[alias]?.handler ?? '').startsWith(`${handlerFile}.`),
        );
        if (options.outdir === undefined || aliases.length === 0) {
          await build.esbuild.build({ ...writer, outfile: path.join(outdir, WORKBOOK_WRITER_FILE) });
          return;
        }
        // serverless-esbuild builds `entry` into `<build>/<dirname(entry)>` and packs
        // `<build>/__only_<alias>/…` into that function's package alone, without the prefix.
        const relativeDir = path.dirname(entry);
        const buildDir = path.resolve(outdir, path.relative(relativeDir, '.'));
        for (const alias of aliases) {
          await build.esbuild.build({
            ...writer,
            outfile: path.join(buildDir, `__only_${alias}`, relativeDir, WORKBOOK_WRITER_FILE),
          });
        }
      });
    },
  };
}

module.exports = (serverless) => {
  const stage = serverless.service.provider.stage;
  const always = [runtimeAwsSdkViaRequire, singleBson, zodEnglishOnly, nativeWhatwgUrl];
  return stage === 'local' ? always : [...always, withoutEmbeddedStore, workbookWriterAlongside(serverless)];
};
