import os from 'node:os';
import { siCollector, siNetwork } from './si.ts';

/**
 * Interfaces: systeminformation's networkInterfaces() for the link (sysfs, default route, type,
 * speed, duplex, DHCP), with every address from node's os.networkInterfaces(): the library keeps
 * only the first IPv4 and IPv6 address of each.
 */
export const networkCollector = siCollector({
  name: 'network',
  load: siNetwork,
  what: 'systeminformation networkInterfaces()',
  call: (si) => si.networkInterfaces(),
  shape: (ifaces) => {
    const addrs = os.networkInterfaces();
    return ifaces.map((i) => ({
      name: i.ifaceName,
      mac: i.mac || null,
      mtu: i.mtu || null,
      state: i.operstate || null,
      addresses: (addrs[i.ifaceName] ?? []).map((a) => ({
        family: a.family,
        address: a.address,
        cidr: a.cidr,
        internal: a.internal,
      })),
      default: i.default,
      type: i.type || null,
      internal: i.internal,
      virtual: i.virtual,
      speed_mbps: i.speed !== null && i.speed > 0 ? i.speed : null,
      duplex: i.duplex || null,
      dhcp: i.dhcp,
      carrier_changes: Number.isFinite(i.carrierChanges) ? i.carrierChanges : null,
    }));
  },
});
