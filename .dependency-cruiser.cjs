/**
 * The layering of lib/, checked by `npm run lint` (dependency-cruiser). A rule that gets in the
 * way is changed here, in the same commit as the code, with the reason beside it.
 *
 *   functions/ ──▶ entry modules only (lib/http/*-routes.ts, lib/runs/workers/*-worker.ts)
 *   lib/cli (the command line, built into dist/cli.mjs) ──▶ summary, matching, store, runs' output
 *     definitions; no AWS, no HTTP
 *   lib/http ──▶ lib/summary, lib/runs, lib/store ──▶ lib/matching (pure) ──▶ nothing with I/O
 *   lib/aws: SDK clients and AWS error mapping only
 *   lib/*.ts (config, logger, errors, models): used by every part, use none of them
 */
const IO_MODULES = '^(fs|fs/promises|net|http|https|child_process|os|dgram|dns|tls|worker_threads)$';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes load order matter and hides which part depends on which.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'functions-import-entry-points-only',
      severity: 'error',
      comment: 'Handlers are 1-3 line adapters: they import one entry module and nothing else of lib/.',
      from: { path: '^functions/' },
      to: {
        path: '^lib/',
        pathNot: ['^lib/http/[^/]+-routes[.]ts$', '^lib/runs/workers/[^/]+-workers?[.]ts$'],
      },
    },
    {
      name: 'cli-is-an-entry-point',
      severity: 'error',
      comment:
        'lib/cli is the command line, an entry point like functions/: nothing else imports it (dist/cli.mjs is built from lib/cli/main.ts).',
      from: { path: '^(lib|functions)/', pathNot: '^lib/cli/' },
      to: { path: '^lib/cli/' },
    },
    {
      name: 'cli-runs-offline',
      severity: 'error',
      comment:
        'The command line works on exported files with no AWS and no server: it may use the summary, the matcher, the store and the definitions of run outputs (what a run writes, the output sources, request fields), not HTTP, AWS clients, the ledger, the job or the Lambda config and logger. That also keeps the AWS SDK and the driver out of its bundle, which must start fast.',
      from: { path: '^lib/cli/' },
      to: {
        path: [
          '^lib/(http|aws)/',
          '^lib/runs/(?!(outputs|output-source|request|run-id)[.]ts$)',
          '^lib/(config|logger)[.]ts$',
          '^(mongodb|@aws-sdk|@aws-lambda-powertools|@middy)',
        ],
      },
    },
    {
      name: 'matching-is-pure',
      severity: 'error',
      comment: 'The matcher is a pure algorithm: no I/O, no AWS, no database, no run lifecycle.',
      from: { path: '^lib/matching/' },
      to: {
        path: [
          '^lib/(runs|http|aws|store|summary)/',
          '^lib/(config|logger)[.]ts$',
          '^(mongodb|@aws-sdk|@aws-lambda-powertools|@middy)',
        ],
      },
    },
    {
      name: 'matching-no-io-builtins',
      severity: 'error',
      comment: 'The matcher does no I/O.',
      from: { path: '^lib/matching/' },
      to: { dependencyTypes: ['core'], path: IO_MODULES },
    },
    {
      name: 'summary-is-pipeline-and-service',
      severity: 'error',
      comment:
        'The actions summary builds pipelines and runs them on a DocumentStore; it knows nothing of runs, HTTP or AWS.',
      from: { path: '^lib/summary/' },
      to: { path: '^lib/(runs|http|aws|matching)/' },
    },
    {
      name: 'store-below-the-services',
      severity: 'error',
      comment:
        'The document store serves the summary and the runs; it must not depend on them, on HTTP or on AWS plumbing.',
      from: { path: '^lib/store/' },
      to: { path: '^lib/(runs|http|aws|summary)/' },
    },
    {
      name: 'aws-is-sdk-plumbing',
      severity: 'error',
      comment:
        'lib/aws holds SDK clients and AWS error mapping only; domain persistence lives with its domain.',
      from: { path: '^lib/aws/' },
      to: { path: '^lib/(runs|http|store|summary|matching)/' },
    },
    {
      name: 'runs-do-not-know-http',
      severity: 'error',
      comment: 'Runs are started by HTTP and by events alike; HTTP adapts to them, not the other way round.',
      from: { path: '^lib/runs/' },
      to: { path: '^lib/http/' },
    },
    {
      name: 'shared-top-level-is-a-leaf',
      severity: 'error',
      comment: 'config, logger, errors and the models are used by every part and use none of them.',
      from: { path: '^lib/[^/]+[.]ts$' },
      to: { path: '^lib/[^/]+/' },
    },
    {
      name: 'lib-is-the-product',
      severity: 'error',
      comment: 'lib/ never imports handlers, scripts, tests or benchmarks.',
      from: { path: '^lib/' },
      to: { path: '^(functions|scripts|test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^node_modules' },
  },
};
