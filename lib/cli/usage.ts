/**
 * How the command line is called and what it answers with: usage text, exit codes, the error for
 * a call it cannot carry out.
 */

/** Exit codes, documented in `--help`: scripts can tell a bad call from a missing account. */
export const EXIT = {
  ok: 0,
  /** Anything unexpected (a bug, a full disk): the message, one line. */
  failure: 1,
  /** Bad arguments, or an input file that cannot be read (missing, not UTF-8, broken JSON). */
  usage: 2,
  /** `summary --number N`: no account N (HTTP says 404). */
  notFound: 3,
} as const;

export const MATCH_USAGE = `usage: zhkh-billing match --accruals FILE --payments FILE [options]

Matches payments to accruals (SPEC §3) read from two exports (mongoexport NDJSON or JSON
arrays, Extended JSON), and prints the result document as JSON.

options:
  --accruals FILE             accruals export
  --payments FILE             payments export
  --policy P                  chronological (default) or month-first
  --partition-by FIELD        match within each value of FIELD (e.g. account)
  --limitation-period P       ISO 8601 years/months (P3Y, P36M, P2Y6M): the oldest-accrual
                              step skips accruals time-barred at the payment (SPEC §7)
  --out DIR                   write every output of a run (result.json, the CSV tables, ...)
                              into DIR instead of printing result.json
  -h, --help                  this text`;

export const SUMMARY_USAGE = `usage: zhkh-billing summary --accounts FILE [--number N]

Prints the actions summary (SPEC §2) of every account in an export, ordered by number, as a JSON
array; with --number, of that account only.

options:
  --accounts FILE             accounts export (collection Account)
  --number N                  one account (13 characters)
  -h, --help                  this text`;

export const USAGE = `usage: zhkh-billing match --accruals FILE --payments FILE [--policy P] [--partition-by FIELD]
                            [--limitation-period P] [--out DIR]
       zhkh-billing summary --accounts FILE [--number N]
       zhkh-billing COMMAND --help

exit codes: ${EXIT.ok} done; ${EXIT.usage} bad arguments or an unreadable input file; ${EXIT.notFound} no such
account (summary --number); ${EXIT.failure} anything else. Errors are one line on stderr.`;

/** A call the command line cannot carry out, reported on one line with its exit code. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CommandError';
  }
}
