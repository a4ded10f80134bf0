import { readFileSync } from 'node:fs';
import os from 'node:os';
import { noArgs, type Collector } from './collector.ts';

function sysfs(iface: string, file: string): string | null {
  try {
    return readFileSync(`/sys/class/net/${iface}/${file}`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Interfaces with addresses, MAC, MTU and state. */
export const networkCollector: Collector = {
  name: 'network',
  summary: 'interfaces: addresses, MAC, MTU, link state',
  async run(args) {
    noArgs('network', args);
    return Object.entries(os.networkInterfaces()).map(([name, addrs]) => ({
      name,
      mac: addrs?.[0]?.mac ?? null,
      mtu: Number(sysfs(name, 'mtu')) || null,
      state: sysfs(name, 'operstate'),
      addresses: (addrs ?? []).map((a) => ({ family: a.family, address: a.address, cidr: a.cidr, internal: a.internal })),
    }));
  },
};
