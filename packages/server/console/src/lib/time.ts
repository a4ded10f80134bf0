// Pure (no DOM): unit-tested under Node in packages/server/test/console-lib.test.ts.
/**
 * The server stores and sends UTC (unix milliseconds or ISO 8601); the console shows the
 * browser's local zone. The UTC value stays available as a tooltip.
 */
export function toDate(value: string | number | null | undefined): Date | null {
  if (value === null || value === undefined || value === '') return null;
  const d = typeof value === 'number' ? new Date(value) : new Date(/^\d+$/.test(value) ? Number(value) : value);
  return Number.isNaN(d.getTime()) ? null : d;
}

const fmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});

export function formatLocal(value: string | number | null | undefined): string {
  const d = toDate(value);
  return d ? fmt.format(d) : '—';
}

export function formatUtc(value: string | number | null | undefined): string {
  const d = toDate(value);
  return d ? d.toISOString() : '';
}

const shortFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hour12: false });

export function formatClock(value: number): string {
  return shortFmt.format(new Date(value));
}
