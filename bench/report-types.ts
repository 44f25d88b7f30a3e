import type { BundleMeasurement } from './bundle-types.js';
import type { ColdRequestMeasurement } from './cold-request.js';
import type { CoreMeasurement, ProfileSummary } from './core-types.js';
import type { E2eMeasurement } from './e2e-types.js';
import type { InitProfile } from './init-profile.js';
import type { MachineInfo } from './machine.js';
import type { SummaryMeasurement } from './summary-types.js';

/** Everything one `npm run bench` measured. */
export interface BenchReport {
  readonly mode: 'full' | 'quick' | 'custom';
  /** The arguments given after `npm run bench --`. */
  readonly argv: readonly string[];
  readonly startedAt: string;
  readonly durationS: number;
  readonly machine: MachineInfo;
  readonly seed: number;
  readonly core: readonly CoreMeasurement[];
  readonly profile: ProfileSummary | undefined;
  readonly e2e: E2eMeasurement | undefined;
  /** The actions summary of one account, both pipelines (empty when skipped). */
  readonly summary: readonly SummaryMeasurement[];
  readonly bundles: readonly BundleMeasurement[];
  /** `node --cpu-prof` of the slowest bundle's import, when profiling. */
  readonly initProfile: InitProfile | undefined;
  /** A cold request to the account route (import + first request that opens MongoDB), when built. */
  readonly coldRequest: ColdRequestMeasurement | undefined;
}
