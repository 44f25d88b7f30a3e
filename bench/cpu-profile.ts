import { writeFile } from 'node:fs/promises';
import type { Profiler, Runtime } from 'node:inspector';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from './child-process.js';

/** Sampling interval: finer than the 1 ms default, so sub-second runs still give a usable profile. */
export const PROFILE_INTERVAL_US = 100;

/**
 * Runs `work` under the V8 CPU profiler (what `node --cpu-prof` records, but limited to the timed
 * region, so input generation and warm-up do not dilute it).
 */
export async function profiled<T>(
  work: () => T | Promise<T>,
): Promise<{ result: T; profile: Profiler.Profile }> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: PROFILE_INTERVAL_US });
    await session.post('Profiler.start');
    const result = await work();
    const { profile } = await session.post('Profiler.stop');
    return { result, profile };
  } finally {
    session.disconnect();
  }
}

export async function saveProfile(profile: Profiler.Profile, file: string): Promise<void> {
  await writeFile(file, JSON.stringify(profile));
}

export interface SelfTime {
  readonly name: string;
  /** The function's file, relative to the project (line numbers of transpiled code would mislead). */
  readonly location: string;
  readonly selfMs: number;
}

/** A profiled function's file: project-relative, or from `node_modules/` on, or as V8 names it. */
export function fileOf(frame: Runtime.CallFrame): string {
  const url = frame.url;
  if (!url.startsWith('file://')) return url;
  let file: string;
  try {
    file = fileURLToPath(url);
  } catch {
    return url;
  }
  const modules = file.lastIndexOf('/node_modules/');
  if (modules !== -1) return file.slice(modules + 1);
  const relative = path.relative(REPO_ROOT, file);
  return relative.startsWith('..') ? file : relative;
}

/**
 * Self time summed per `key(callFrame)`, in milliseconds. Each sample is charged the time until
 * the next one (`timeDeltas`).
 */
export function selfTimeBy(
  profile: Profiler.Profile,
  key: (frame: Runtime.CallFrame) => string,
): Map<string, number> {
  const nodeById = new Map(profile.nodes.map((node) => [node.id, node]));
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const totals = new Map<string, number>();
  for (let i = 0; i < samples.length; i++) {
    const node = nodeById.get(samples[i] as number);
    if (node === undefined) continue;
    const k = key(node.callFrame);
    totals.set(k, (totals.get(k) ?? 0) + (deltas[i + 1] ?? 0) / 1000);
  }
  return totals;
}

/** Self time per function (every call site of the same function together), largest first. */
export function topSelfTime(profile: Profiler.Profile, limit: number): SelfTime[] {
  const totals = selfTimeBy(
    profile,
    (frame) => `${frame.functionName || '(anonymous)'}\u0000${fileOf(frame)}`,
  );
  return [...totals.entries()]
    .map(([key, selfMs]) => {
      const [name = '', location = ''] = key.split('\u0000');
      return { name, location, selfMs };
    })
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, limit);
}

/** Profile duration in milliseconds. */
export function profileDurationMs(profile: Profiler.Profile): number {
  return (profile.endTime - profile.startTime) / 1000;
}
