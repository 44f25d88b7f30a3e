import type { MatchOutcome } from '../lib/matching/index.js';
import type { CoreCounts } from './core-types.js';
import type { NaiveOutcome } from './naive-match.js';

/**
 * "Build the result": reads the outcome's stats and walks every output record (each match, unmatched
 * payment, unpaid accrual and rejection), which is what the matcher constructs on demand when a
 * result is serialised. The walk touches a field of each record so nothing can be skipped, and
 * checks that what it saw agrees with the stats.
 */
export function consumeOutcome(outcome: MatchOutcome): CoreCounts {
  const stats = outcome.stats;
  let matched = 0;
  let sameMonth = 0;
  let touched = 0;
  for (const match of outcome.matches()) {
    matched++;
    if (match.rule === 'same-month') sameMonth++;
    touched += match.payment.date.length + match.accrual.date.length;
  }
  let unmatched = 0;
  for (const payment of outcome.unmatchedPayments()) {
    unmatched++;
    touched += payment.date.length;
  }
  let unpaid = 0;
  for (const accrual of outcome.unpaidAccruals()) {
    unpaid++;
    touched += accrual.date.length;
  }
  let rejected = 0;
  for (const entry of outcome.rejected()) {
    rejected++;
    touched += entry.reason.length;
  }
  const seen = [matched, sameMonth, unmatched, unpaid, rejected];
  const reported = [stats.matched, stats.sameMonth, stats.unmatched, stats.unpaid, stats.rejected];
  if (seen.some((count, i) => count !== reported[i]) || (touched === 0 && matched > 0)) {
    throw new Error(
      `outcome disagrees with its stats: walked ${seen.join('/')} vs stats ${reported.join('/')}`,
    );
  }
  return { matched, sameMonth, unmatched, unpaid };
}

/** The naive baseline builds its result inside the call; this only reads the counts. */
export function consumeNaive(outcome: NaiveOutcome): CoreCounts {
  const { matched, sameMonth, unmatched, unpaid } = outcome.stats;
  if (outcome.matchPayment.length !== matched || outcome.unpaidAccruals.length !== unpaid) {
    throw new Error('naive outcome disagrees with its stats');
  }
  return { matched, sameMonth, unmatched, unpaid };
}
