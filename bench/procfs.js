/**
 * What the benchmarks read of a process they started, from Linux's /proc (proc(5)): its CPU
 * time and its memory. NaN where there is no /proc.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { KiB } from './report.js';

const procfs = existsSync('/proc/self/stat');
const CLOCK_TICKS = 100; // USER_HZ, 100 on every Linux architecture Node runs on

/** A `/proc/PID/status` field given in kB (VmRSS, VmHWM), in bytes. */
export function procStatus(pid, field) {
  if (!procfs) return NaN;
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * KiB : NaN;
}

/** Resets VmHWM to the current RSS (Linux 4.0+); false where that is not possible. */
export function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** utime + stime of a process, all its threads, in seconds. */
export function cpuSeconds(pid) {
  if (!procfs || pid === undefined) return NaN;
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
}
