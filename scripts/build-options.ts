import type { BuildOptions } from 'esbuild';

/**
 * The esbuild options production bundles are built with (serverless-esbuild mirrors them in
 * serverless.yml). Tests that check behaviour of the *bundled* code build with these same options,
 * so a change here is exercised by the suite.
 *
 * `keepNames` is load-bearing: `Model.COLLECTION` is derived from the class name and
 * `AppError#name` from `new.target.name`; minification would otherwise rename both classes.
 */
export const BUNDLE_OPTIONS = {
  bundle: true,
  minify: true,
  keepNames: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // CommonJS dependencies (the MongoDB driver, parts of the AWS SDK) call `require`, which an ESM
  // bundle does not have; recreate it once at the top of every bundle.
  banner: {
    js: "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);",
  },
} as const satisfies BuildOptions;
