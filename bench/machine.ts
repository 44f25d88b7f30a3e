import { readFileSync } from 'node:fs';
import os from 'node:os';

/** The machine a benchmark ran on, for the report. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly v8: string;
  readonly os: string;
  /** 1-minute load average when the run started and ended: other work on the machine skews timings. */
  readonly loadStart: number;
  readonly loadEnd: number;
}

/** CPU model from /proc/cpuinfo (Linux), else from os.cpus(). */
function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match) return (match[1] as string).trim();
  } catch {
    // Not Linux: fall through.
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

/** Call at the end of the run, with the load average taken at its start ({@link currentLoad}). */
export function describeMachine(loadStart: number): MachineInfo {
  return {
    cpuModel: cpuModel(),
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadStart,
    loadEnd: currentLoad(),
  };
}

export function currentLoad(): number {
  return os.loadavg()[0] ?? 0;
}
