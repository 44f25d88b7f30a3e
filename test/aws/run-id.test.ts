import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRunId, newRunId, runIdSchema } from '../../lib/runs/run-id.js';

describe('run ids', () => {
  it('are 26 URL-safe characters that pass isRunId and the zod schema', () => {
    const runId = newRunId();
    expect(runId).toMatch(/^[0-9A-Z]{26}$/);
    expect(encodeURIComponent(runId)).toBe(runId);
    expect(isRunId(runId)).toBe(true);
    expect(runIdSchema.safeParse(runId).success).toBe(true);
  });

  it('sort in creation-time order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 2 }), fc.integer({ min: 1, max: 10_000 }), (t, gap) => {
        const earlier = newRunId(t);
        const later = newRunId(Math.min(t + gap, 2 ** 48 - 1));
        expect(earlier < later).toBe(true);
      }),
    );
  });

  it('do not repeat', () => {
    const now = Date.now();
    const ids = new Set(Array.from({ length: 10_000 }, () => newRunId(now)));
    expect(ids.size).toBe(10_000);
  });

  it.each([
    ['empty', ''],
    ['lower case', newRunId().toLowerCase()],
    ['too short', newRunId().slice(1)],
    ['too long', `${newRunId()}0`],
    ['with I, L, O or U', '01ARZ3NDEKTSV4RRFFQ69G5FAI'],
    ['timestamp beyond 48 bits', '81ARZ3NDEKTSV4RRFFQ69G5FAV'],
    ['path traversal', '../../../../../../../../etc'],
    ['a Mongo operator', '{"$ne":null}'],
  ])('refuses %s', (_label, value) => {
    expect(isRunId(value)).toBe(false);
    expect(runIdSchema.safeParse(value).success).toBe(false);
  });

  it.each([null, undefined, 42, {}])('refuses the non-string %j', (value) => {
    expect(isRunId(value)).toBe(false);
  });
});
