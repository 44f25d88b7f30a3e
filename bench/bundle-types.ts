/** One Lambda function's bundle: size and cold module initialisation. */
export interface BundleMeasurement {
  /** The functions/*.ts file name without extension. */
  readonly name: string;
  /** Minified bundle size (the `.mjs`, not its external source map). */
  readonly bytes: number;
  /** The largest inputs by bytes in the bundle (esbuild metafile), to explain its size. */
  readonly topInputs: readonly { readonly path: string; readonly bytes: number }[];
  /** `await import(bundle)` in a fresh Node process with `--enable-source-maps`, as deployed. */
  readonly initRunsMs: readonly number[];
  readonly initMedianMs: number;
  /** CPU time (user + system) of the same imports: less sensitive to other load on the machine. */
  readonly initCpuMedianMs: number;
  /** The same without `--enable-source-maps`. */
  readonly initPlainMedianMs: number;
  /** The packages left to the Lambda runtime (the AWS SDK) that the bundle loads at cold start. */
  readonly externals: readonly string[];
  /**
   * Loading only those externals in a fresh process, the way the bundle loads them (`require` or
   * `import`): the share of init that is the runtime's SDK.
   */
  readonly externalsInitMedianMs: number;
}
