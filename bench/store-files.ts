import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { MatchingInputs, MatchingRecord } from './inputs.js';

/** `mongoexport`-style Extended JSON, one document per line: what the embedded store reads. */
function ndjson(records: readonly MatchingRecord[]): string {
  const lines: string[] = [];
  for (const record of records) {
    lines.push(
      `{"id":${record.id},"date":{"$date":"${record.date.toISOString()}"},"month":${JSON.stringify(record.month)}}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Writes `accrual.ndjson` and `payment.ndjson` into `dir` (the embedded store's DATA_DIR layout). */
export async function writeStoreFiles(dir: string, inputs: MatchingInputs): Promise<void> {
  await writeFile(path.join(dir, 'accrual.ndjson'), ndjson(inputs.accruals));
  await writeFile(path.join(dir, 'payment.ndjson'), ndjson(inputs.payments));
}
