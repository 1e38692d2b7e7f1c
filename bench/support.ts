/** Small helpers the benchmark scripts share. */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';

export { freePort } from '../tests/helpers/ports.js';

/** Polls a URL until it answers 2xx, or throws after `timeoutMs`. */
export async function waitFor(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) {
        return;
      }
    } catch {
      // Not up yet.
    }
    await sleep(200);
  }
  throw new Error(`${url} did not become ready`);
}

/** A process's current and peak resident memory in MB, from /proc (Linux). */
export async function rssMb(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) =>
    Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) / 1024;

  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

/** The value at `fraction` (0–1) of an ascending list. */
export function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? NaN;
}

/** A service's NODE_OPTIONS as docker-compose.yml sets them, so a bench runs it as it is deployed. */
export async function composeNodeOptions(service: 'api' | 'worker'): Promise<string> {
  const file = new URL('../docker-compose.yml', import.meta.url);
  const compose = parse(await readFile(file, 'utf8'), { merge: true }) as {
    services: Record<string, { environment?: Record<string, string> }>;
  };

  return compose.services[service]?.environment?.NODE_OPTIONS ?? '';
}
