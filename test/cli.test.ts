import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workedExample } from './fixtures/worked-example.js';

const run = promisify(execFile);
const TSX = join('node_modules', '.bin', 'tsx');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(TSX, ['scripts/cli.ts', ...args], { encoding: 'utf8' });
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
    await writeFile(file('accruals.json'), JSON.stringify(accruals));
    // NDJSON, as mongoexport writes it, with one broken record that must be rejected, not fatal.
    await writeFile(
      file('payments.ndjson'),
      `${[...payments, { id: 9, date: 'вчера', month: 1 }].map((p) => JSON.stringify(p)).join('\n')}\n`,
    );
    await writeFile(file('accounts.json'), JSON.stringify(accounts));
    await writeFile(file('broken.json'), '[{"id": 1,');
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
        `"${TSX}" scripts/cli.ts match --accruals "${file('many.json')}" --payments "${file('many.json')}" | head -c 100; echo "exit=\${PIPESTATUS[0]}" >&2`,
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
  ])('exits 2 with a one-line message on %s', async (_case, args, message) => {
    const resolved = args.map((arg) =>
      arg === 'BROKEN' ? file('broken.json') : arg === 'ACCOUNTS' ? file('accounts.json') : arg,
    );
    const result = await cli(...resolved);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
  });
});
