import os from 'node:os';
import type { Systeminformation } from 'systeminformation';
import { siCollector, siCpu } from './si.ts';

/** Length of the utilisation sample (`usage`), what `mpstat` would call its interval. */
export const CPU_SAMPLE_MS = 500;

let primed = false;

/**
 * CPU busy share over the last CPU_SAMPLE_MS. systeminformation's currentLoad() answers the
 * average since its previous call (its first call samples 0.5 s itself), which in a long-running
 * agent would be "since the last getinfo.cpu, hours ago"; so later calls re-base first, then sample.
 */
async function sampleLoad(si: Awaited<ReturnType<typeof siCpu>>): Promise<Systeminformation.CurrentLoadData> {
  if (!primed) {
    primed = true;
    return si.currentLoad();
  }
  await si.currentLoad();
  await new Promise((r) => setTimeout(r, CPU_SAMPLE_MS));
  return si.currentLoad();
}

const pct = (n: number) => Math.round(n * 100) / 100;

/** systeminformation's cpu() (lscpu, dmidecode) and currentLoad(), with the kernel's model name and load average. */
export const cpuCollector = siCollector({
  name: 'cpu',
  load: siCpu,
  what: 'systeminformation cpu() and currentLoad()',
  call: (si) => Promise.all([si.cpu(), sampleLoad(si)]),
  shape: ([c, load]) => {
    const cpus = os.cpus();
    const [l1, l5, l15] = os.loadavg();
    return {
      model: cpus[0]?.model ?? null,
      mhz: cpus[0]?.speed ?? null,
      logical: cpus.length,
      cores: c.physicalCores || null,
      arch: os.machine(),
      loadavg: { '1m': l1, '5m': l5, '15m': l15 },
      sockets: c.processors || null,
      manufacturer: c.manufacturer,
      brand: c.brand,
      vendor: c.vendor,
      family: c.family,
      model_id: c.model,
      stepping: c.stepping,
      speed_ghz: c.speed || null,
      speed_min_ghz: c.speedMin || null,
      speed_max_ghz: c.speedMax || null,
      governor: c.governor || null,
      virtualization: c.virtualization,
      cache: c.cache,
      flags: c.flags.split(/\s+/).filter(Boolean),
      usage: {
        sample_ms: CPU_SAMPLE_MS,
        busy: pct(load.currentLoad),
        user: pct(load.currentLoadUser),
        system: pct(load.currentLoadSystem),
        nice: pct(load.currentLoadNice),
        irq: pct(load.currentLoadIrq),
        steal: pct(load.currentLoadSteal),
        idle: pct(load.currentLoadIdle),
        per_cpu: load.cpus.map((x) => pct(x.load)),
      },
    };
  },
});
