import { siCollector, siFilesystem } from './si.ts';

/** Disks, partitions, md arrays and LVM volumes: systeminformation's blockDevices() (`lsblk`). */
export const blockDevicesCollector = siCollector({
  name: 'blockdevices',
  load: siFilesystem,
  what: 'systeminformation blockDevices()',
  call: (si) => si.blockDevices(),
  shape: (list) =>
    list.map((d) => ({
      name: d.name,
      device: d.device ?? `/dev/${d.name}`,
      type: d.type,
      size: d.size,
      fstype: d.fsType || null,
      mount: d.mount || null,
      uuid: d.uuid || null,
      label: d.label || null,
      model: d.model || null,
      serial: d.serial || null,
      removable: d.removable,
      physical: d.physical || null,
      protocol: d.protocol || null,
      group: d.group || null,
    })),
});
