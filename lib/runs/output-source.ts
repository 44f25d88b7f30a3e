import {
  type MatchOutcome,
  type MatchStats,
  matchesCsvChunks,
  type ResultMeta,
  resultJsonChunks,
  sheetRows,
  unmatchedPaymentsCsvChunks,
  unpaidAccrualsCsvChunks,
} from '../matching/index.js';
import type { OutputChunks } from './output-bucket.js';
import type { EveryRunOutputName, PartitionedOnlyOutputName } from './outputs.js';
import { runWorkbook, type WorkbookOptions, workbookChunks } from './workbook.js';

export type { OutputChunk, OutputChunks } from './output-bucket.js';

type RenderOutput = (meta: ResultMeta) => OutputChunks;

/**
 * A finished run's outputs, ready to be written: one chunk source per entry of `RUN_OUTPUTS`
 * (lib/runs/outputs.ts) the run writes, each read once. Implemented by the in-memory outcome of a
 * whole run ({@link outcomeOutputs}) and by the spilled files of a partitioned run
 * (lib/runs/spill.ts), which alone has the outputs only partitioned runs write.
 */
export type OutputSource = { readonly [name in EveryRunOutputName]: RenderOutput } & {
  readonly [name in PartitionedOnlyOutputName]?: RenderOutput;
} & {
  readonly stats: MatchStats;
  /** Releases what the outputs hold (temporary files); call once they are written or abandoned. */
  dispose(): Promise<void>;
};

/** How the outputs are written, where there is a choice. */
export interface OutputOptions {
  /** `result.xlsx` (tests inject a small row limit per sheet). */
  readonly workbook?: WorkbookOptions;
}

/**
 * The outputs of a run matched as a whole, rendered from its outcome in memory: those every run
 * writes (the job matches partitioned runs partition by partition, lib/runs/spill.ts).
 */
export function outcomeOutputs(outcome: MatchOutcome, options: OutputOptions = {}): OutputSource {
  return {
    stats: outcome.stats,
    matchesCsv: () => matchesCsvChunks(outcome),
    unmatchedPaymentsCsv: () => unmatchedPaymentsCsvChunks(outcome),
    unpaidAccrualsCsv: () => unpaidAccrualsCsvChunks(outcome),
    resultXlsx: (meta) =>
      workbookChunks(runWorkbook(meta, outcome, outcome.stats, sheetRows(outcome)), options.workbook),
    resultJson: (meta) => resultJsonChunks(outcome, meta),
    dispose: async () => undefined,
  };
}
