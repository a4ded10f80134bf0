import { ErrorCode } from '@aspire/protocol/error-codes';
import { CollectorError } from './collector.ts';
import { siCollector, siMemory } from './si.ts';

/** RAM and swap in bytes: systeminformation's mem() (it reads /proc/meminfo). */
export const memoryCollector = siCollector({
  name: 'memory',
  load: siMemory,
  what: 'systeminformation mem()',
  call: (si) => si.mem(),
  shape: (m) => {
    // The library answers zeros when /proc/meminfo cannot be read: that is a failure, not a host with no RAM.
    if (!m.total) throw new CollectorError(ErrorCode.COLLECTOR_FAILED, 'cannot read /proc/meminfo');
    return {
      total: m.total,
      free: m.free,
      available: m.available,
      buffers: m.buffers,
      cached: m.cached,
      swap_total: m.swaptotal,
      swap_free: m.swapfree,
      used: m.used,
      active: m.active,
      slab: m.slab,
      buffcache: m.buffcache,
      reclaimable: m.reclaimable,
      swap_used: m.swapused,
      writeback: m.writeback,
      dirty: m.dirty,
    };
  },
});
