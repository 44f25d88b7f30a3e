import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchPayments } from '../lib/matching/index.js';
import { outcomeOutputs } from '../lib/runs/output-source.js';
import { isPartitionedOnly, RUN_OUTPUTS } from '../lib/runs/outputs.js';
import packageJson from '../package.json' with { type: 'json' };
import { buildCli } from '../scripts/build-cli.js';
import { workedExample } from './fixtures/worked-example.js';
import { outputBytes, type ReadSheet, readWorkbook } from './support/workbook-reader.js';

const run = promisify(execFile);
/** The built command line (scripts/build-cli.ts), rebuilt from the current sources for these tests. */
let bundle: string;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bundle, ...args], { encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

// The worked example of SPEC §3 (days of January 2024): accruals as ISO strings, payments as
// Extended JSON dates, the two forms exported files carry.
const day = (d: number) => `2024-01-${String(d).padStart(2, '0')}`;
const { accruals } = workedExample(day);
const { payments } = workedExample((d) => ({ $date: `${day(d)}T00:00:00Z` }));

const accounts = [
  {
    number: '7800000000002',
    name: 'Пользователь №2',
    sessions: [{ actions: [{ type: 'read', created_at: { $date: '2016-01-01T01:20:01Z' } }] }],
  },
  { number: '7800000000001', name: 'Пользователь №1' },
];

describe('command line', () => {
  let dir: string;
  const file = (name: string) => join(dir, name);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-'));
    bundle = await buildCli(file('cli.mjs'));
    await writeFile(file('accruals.json'), JSON.stringify(accruals));
    // NDJSON, as mongoexport writes it, with one broken record that must be rejected, not fatal.
    await writeFile(
      file('payments.ndjson'),
      `${[...payments, { id: 9, date: 'вчера', month: 1 }].map((p) => JSON.stringify(p)).join('\n')}\n`,
    );
    await writeFile(file('accounts.json'), JSON.stringify(accounts));
    await writeFile(file('broken.json'), '[{"id": 1,');
    await writeFile(
      file('latin1.ndjson'),
      Buffer.from('{"number": "7800000000001"}\n{"name": "Ivanov \xe9"}\n', 'latin1'),
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    [
      'chronological',
      [
        [3, 1],
        [1, 2],
        [2, 7],
        [4, 3],
        [5, 4],
      ],
      [],
    ],
    [
      'month-first',
      [
        [2, 2],
        [5, 1],
        [1, 3],
        [4, 4],
      ],
      [3],
    ],
  ])('prints the %s result of the worked example', async (policy, pairs, unmatched) => {
    const result = await cli(
      'match',
      '--accruals',
      file('accruals.json'),
      '--payments',
      file('payments.ndjson'),
      '--policy',
      policy,
    );
    expect(result.code).toBe(0);
    const document = JSON.parse(result.stdout);
    expect(document.policy).toBe(policy);
    expect(
      document.matches.map((m: { payment: { id: number }; accrual: { id: number } }) => [
        m.payment.id,
        m.accrual.id,
      ]),
    ).toEqual(pairs);
    expect(document.unmatchedPayments.map((p: { id: number }) => p.id)).toEqual(unmatched);
    expect(document.rejected).toEqual([
      expect.objectContaining({ source: 'payment', reason: expect.stringContaining('date') }),
    ]);
    expect(document.stats.payments).toBe(6);
  });

  it('passes elements that are not objects to the matcher, which rejects them as "not an object"', async () => {
    await writeFile(file('accruals-mixed.json'), JSON.stringify([...accruals, [1, 2], 42, 'x']));
    await writeFile(
      file('payments-mixed.ndjson'),
      `${[...payments, [1, 2], 42, 'x', null].map((p) => JSON.stringify(p)).join('\n')}\n`,
    );
    const result = await cli(
      'match',
      '--accruals',
      file('accruals-mixed.json'),
      '--payments',
      file('payments-mixed.ndjson'),
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const document = JSON.parse(result.stdout);
    const rejected = (source: string) =>
      document.rejected
        .filter((entry: { source: string }) => entry.source === source)
        .map((entry: { record: unknown; reason: string }) => [entry.record, entry.reason.split(':')[0]]);
    expect(rejected('accrual')).toEqual([
      [[1, 2], 'not an object'],
      [42, 'not an object'],
      ['x', 'not an object'],
    ]);
    expect(rejected('payment')).toEqual([
      [[1, 2], 'not an object'],
      [42, 'not an object'],
      ['x', 'not an object'],
      [null, 'not an object'],
    ]);
    expect(document.matches).toHaveLength(5);
    expect(document.stats).toMatchObject({ accruals: 10, payments: 9, rejected: 7 });
  });

  it('exits quietly when the reader of its output goes away (| head)', async () => {
    // Far more output than a pipe holds, so the writes meet the closed pipe.
    const many = Array.from({ length: 20_000 }, (_, i) => ({ id: i, date: day(1 + (i % 28)), month: 1 }));
    await writeFile(file('many.json'), JSON.stringify(many));
    const { stdout, stderr } = await run(
      'bash',
      [
        '-c',
        `"${process.execPath}" "${bundle}" match --accruals "${file('many.json')}" --payments "${file('many.json')}" | head -c 100; echo "exit=\${PIPESTATUS[0]}" >&2`,
      ],
      { encoding: 'utf8' },
    );
    expect(stdout).toHaveLength(100);
    expect(stderr.trim()).toBe('exit=0');
  });

  it('prints the actions summary of every account, ordered by number, as a JSON array', async () => {
    const result = await cli('summary', '--accounts', file('accounts.json'));
    expect(result.code).toBe(0);
    const summaries = JSON.parse(result.stdout);
    expect(summaries.map((s: { number: string }) => s.number)).toEqual(['7800000000001', '7800000000002']);
    expect(summaries[1].actions[1]).toEqual({ type: 'read', last: '2016-01-01T01:20:01.000Z', count: 1 });
  });

  it('prints one account with --number', async () => {
    const result = await cli('summary', '--accounts', file('accounts.json'), '--number', '7800000000001');
    expect(JSON.parse(result.stdout)).toEqual([
      {
        number: '7800000000001',
        actions: ['create', 'read', 'update', 'delete'].map((type) => ({ type, last: null, count: 0 })),
      },
    ]);
  });

  it.each([
    ['a missing option', ['match', '--accruals', 'x.json'], /--payments/],
    ['an unknown option', ['match', '--bogus'], /bogus/],
    ['an unknown policy', ['match', '--accruals', 'a', '--payments', 'b', '--policy', 'newest'], /policy/],
    [
      'an unreadable file',
      ['match', '--accruals', '/nonexistent/a.json', '--payments', '/nonexistent/b.json'],
      /nonexistent/,
    ],
    ['a file that is not JSON', ['summary', '--accounts', 'BROKEN'], /broken\.json/],
    ['an invalid account number', ['summary', '--accounts', 'ACCOUNTS', '--number', '123'], /number/],
    ['an unknown command', ['reconcile'], /reconcile/],
    [
      'an invalid limitation period',
      ['match', '--accruals', 'a', '--payments', 'b', '--limitation-period', 'P3D'],
      /--limitation-period "P3D": must be an ISO 8601 duration of whole years and\/or months/,
    ],
    ['a file that is not UTF-8', ['summary', '--accounts', 'LATIN1'], /latin1\.ndjson: line 2: not UTF-8/],
  ])('exits 2 with a one-line message on %s', async (_case, args, message) => {
    const resolved = args.map((arg) =>
      arg === 'BROKEN'
        ? file('broken.json')
        : arg === 'ACCOUNTS'
          ? file('accounts.json')
          : arg === 'LATIN1'
            ? file('latin1.ndjson')
            : arg,
    );
    const result = await cli(...resolved);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
  });

  it('names a broken file once, with the line and what is wrong', async () => {
    const result = await cli(
      'match',
      '--accruals',
      file('broken.json'),
      '--payments',
      file('payments.ndjson'),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `error: ${file('broken.json')}: line 1: invalid JSON at column 11: expected an object key\n`,
    );
  });

  it.each([
    ['', /^usage: zhkh-billing match/],
    ['match', /^usage: zhkh-billing match --accruals FILE --payments FILE \[options\]/],
    ['summary', /^usage: zhkh-billing summary --accounts FILE/],
  ])('prints the usage of %j with --help and -h, exit code 0', async (command, usage) => {
    for (const flag of ['--help', '-h']) {
      const result = await cli(...(command ? [command, flag] : [flag]));
      expect(result.code).toBe(0);
      expect(result.stderr).toBe('');
      expect(result.stdout).toMatch(usage);
    }
  });

  it('documents its exit codes in --help', async () => {
    const { stdout } = await cli('--help');
    expect(stdout).toMatch(
      /exit codes: 0 done; 2 bad arguments or an unreadable input file; 3 no such\s+account/,
    );
  });

  it('starts quickly: a built file, no TypeScript compiler at run time', async () => {
    // Loose on purpose (shared machines); the figure is in the benchmarks.
    const started = performance.now();
    const result = await cli('--help');
    expect(result.code).toBe(0);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await readFile(bundle, 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
  });

  it("is the package's bin, built when the package is installed, and what the npm scripts run", () => {
    expect(packageJson.bin).toEqual({ 'zhkh-billing': 'dist/cli.mjs' });
    expect(packageJson.scripts.prepare).toMatch(/build:cli/);
    expect(packageJson.scripts['build:cli']).toMatch(/scripts\/build-cli\.ts/);
    expect(packageJson.scripts.match).toBe('node dist/cli.mjs match');
    expect(packageJson.scripts.summary).toBe('node dist/cli.mjs summary');
  });

  it('says that an account is not there, with an exit code of its own (HTTP answers 404)', async () => {
    const result = await cli('summary', '--accounts', file('accounts.json'), '--number', '7800000000009');
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`error: no account 7800000000009 in ${file('accounts.json')}\n`);
  });

  it('reports durationMs in whole milliseconds', async () => {
    const result = await cli(
      'match',
      '--accruals',
      file('accruals.json'),
      '--payments',
      file('payments.ndjson'),
    );
    const { durationMs } = JSON.parse(result.stdout).stats;
    expect(Number.isInteger(durationMs)).toBe(true);
  });

  it('prints the reason of every unmatched payment and unpaid accrual', async () => {
    const result = await cli(
      'match',
      ...[
        '--accruals',
        file('accruals.json'),
        '--payments',
        file('payments.ndjson'),
        '--policy',
        'month-first',
      ],
    );
    const document = JSON.parse(result.stdout);
    expect(document.unmatchedPayments).toEqual([
      expect.objectContaining({ id: 3, reason: 'earlier-accruals-paid' }),
    ]);
    expect(document.unpaidAccruals.map((a: { id: number; reason: string }) => [a.id, a.reason])).toEqual([
      [7, 'later-payments-used'],
      [5, 'later-payments-used'],
      [6, 'later-payments-used'],
    ]);
    expect(document.stats.reasons.unmatchedPayments['earlier-accruals-paid']).toBe(1);
    expect(document).not.toHaveProperty('limitationPeriod');
  });

  it('applies --limitation-period and prints it in the result document', async () => {
    // Accruals of 2020 and a payment of another month in 2024: time-barred under P3Y, not under P5Y.
    await writeFile(
      file('old-accruals.ndjson'),
      '{"id": 1, "date": {"$date": "2020-03-01T00:00:00Z"}, "month": "2020-03"}\n',
    );
    await writeFile(
      file('new-payments.ndjson'),
      '{"id": 1, "date": {"$date": "2024-06-01T00:00:00Z"}, "month": "2024-06"}\n',
    );
    const args = [
      'match',
      '--accruals',
      file('old-accruals.ndjson'),
      '--payments',
      file('new-payments.ndjson'),
    ];
    const barred = JSON.parse((await cli(...args, '--limitation-period', 'P36M')).stdout);
    expect(barred.limitationPeriod).toBe('P3Y');
    expect(barred.matches).toEqual([]);
    expect(barred.unmatchedPayments).toEqual([expect.objectContaining({ id: 1, reason: 'time-barred' })]);
    expect(barred.unpaidAccruals).toEqual([expect.objectContaining({ id: 1, reason: 'time-barred' })]);
    const within = JSON.parse((await cli(...args, '--limitation-period', 'P5Y')).stdout);
    expect(within.limitationPeriod).toBe('P5Y');
    expect(within.matches).toHaveLength(1);
  });

  it('writes every output of a run into --out DIR, as the worker writes them to S3', async () => {
    const out = file('run-out');
    const args = [
      '--accruals',
      file('accruals.json'),
      '--payments',
      file('payments.ndjson'),
      '--policy',
      'month-first',
    ];
    const result = await cli('match', ...args, '--out', out);
    expect(result.code).toBe(0);
    const files = RUN_OUTPUTS.filter((output) => !isPartitionedOnly(output.name));
    expect(result.stdout.trim().split('\n')).toEqual(files.map((output) => join(out, output.file)));
    expect((await readdir(out)).sort()).toEqual(files.map((output) => output.file).sort());
    // The same bytes the worker's output source gives for the same records, up to run identity and timing.
    const written = JSON.parse(await readFile(join(out, 'result.json'), 'utf8'));
    const outcome = await matchPayments(
      accruals.map((a) => ({ ...a, date: new Date(`${a.date}T00:00:00Z`) })),
      [...payments.map((p) => ({ ...p, date: new Date(p.date.$date) })), { id: 9, date: 'вчера', month: 1 }],
      { policy: 'month-first' },
    );
    const meta = { runId: written.runId, generatedAt: written.generatedAt };
    const outputs = outcomeOutputs(outcome);
    for (const { name, file: name_ } of files) {
      if (name_ === 'result.json') continue;
      const render = outputs[name];
      if (render === undefined) throw new Error(`no ${name} in the in-memory outputs`);
      const expected = await outputBytes(render(meta));
      const actual = new Uint8Array(await readFile(join(out, name_)));
      if (name_ === 'result.xlsx') {
        // Cell by cell, but for the one cell that is the run's own timing (stats.durationMs).
        expect(withoutTiming(readWorkbook(actual)), name_).toEqual(withoutTiming(readWorkbook(expected)));
      } else {
        expect(Buffer.from(actual).toString('utf8'), name_).toBe(Buffer.from(expected).toString('utf8'));
      }
    }
    let expectedJson = '';
    for await (const chunk of outputs.resultJson(meta)) expectedJson += chunk;
    expect({ ...written, stats: { ...written.stats, durationMs: 0 } }).toEqual({
      ...JSON.parse(expectedJson),
      stats: { ...JSON.parse(expectedJson).stats, durationMs: 0 },
    });
  });
});

/** A workbook's sheets with the value of the `stats.durationMs` row of Summary blanked. */
function withoutTiming(sheets: ReadSheet[]): ReadSheet[] {
  return sheets.map((sheet) => ({
    ...sheet,
    rows: sheet.rows.map((row) =>
      row.some((cell) => cell?.value === 'stats.durationMs')
        ? row.map((cell, i) => (i === 1 ? null : cell))
        : row,
    ),
  }));
}
