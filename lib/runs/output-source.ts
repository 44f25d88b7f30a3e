import {
  type MatchOutcome,
  type MatchStats,
  matchesCsvChunks,
  type ResultMeta,
  resultJsonChunks,
  unmatchedPaymentsCsvChunks,
} from '../matching/index.js';
import type { EveryRunOutputName, PartitionedOnlyOutputName } from './outputs.js';

/** The text of one output, chunk by chunk, as an upload streams it. */
export type OutputChunks = Iterable<string> | AsyncIterable<string>;

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

/**
 * The outputs of a run matched as a whole, rendered from its outcome in memory: those every run
 * writes (the job matches partitioned runs partition by partition, lib/runs/spill.ts).
 */
export function outcomeOutputs(outcome: MatchOutcome): OutputSource {
  return {
    stats: outcome.stats,
    matchesCsv: () => matchesCsvChunks(outcome),
    unmatchedPaymentsCsv: () => unmatchedPaymentsCsvChunks(outcome),
    resultJson: (meta) => resultJsonChunks(outcome, meta),
    dispose: async () => undefined,
  };
}
