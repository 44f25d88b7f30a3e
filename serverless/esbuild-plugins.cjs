// esbuild plugins for the Lambda bundles (serverless-esbuild `plugins`). Each one removes code the
// functions never run, to keep every bundle under 1 MiB minified (fast cold starts). CommonJS
// because serverless-esbuild loads this file with require(); it receives the Serverless instance.
'use strict';

const path = require('node:path');

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

module.exports = (serverless) => {
  const stage = serverless.service.provider.stage;
  return stage === 'local'
    ? [zodEnglishOnly, nativeWhatwgUrl]
    : [zodEnglishOnly, nativeWhatwgUrl, withoutEmbeddedStore];
};
