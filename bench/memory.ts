import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Peak resident memory of this process over a window. On Linux the kernel's high-water mark
 * (`VmHWM`) is reset to the current RSS by writing `5` to `/proc/self/clear_refs`, so the peak of
 * exactly the measured window is known without a sampling thread. Elsewhere the fallback is
 * `getrusage` maxRSS, which cannot be reset: the peak then also covers input generation.
 */
export type PeakMethod = 'vmhwm' | 'maxrss';

const STATUS = '/proc/self/status';
const CLEAR_REFS = '/proc/self/clear_refs';

function readHighWaterMark(): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(STATUS, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function resetHighWaterMark(): boolean {
  try {
    writeFileSync(CLEAR_REFS, '5');
    return true;
  } catch {
    return false;
  }
}

/** Full garbage collections (the child processes run with `--expose-gc`), so the baseline holds live data only. */
export function settleHeap(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('benchmark child processes must run with --expose-gc');
  gc();
  gc();
}

export function residentBytes(): number {
  return process.memoryUsage.rss();
}

/** Tracks the peak RSS from {@link PeakRss.reset} on. */
export class PeakRss {
  method: PeakMethod = 'maxrss';

  /** Starts a new window at the current RSS. */
  reset(): void {
    this.method = resetHighWaterMark() && readHighWaterMark() !== undefined ? 'vmhwm' : 'maxrss';
  }

  /** The highest RSS since `reset` (see the class note for the fallback). */
  peakBytes(): number {
    const fallback = process.resourceUsage().maxRSS * 1024;
    return this.method === 'vmhwm' ? (readHighWaterMark() ?? fallback) : fallback;
  }
}
