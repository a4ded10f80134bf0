import { formatLocal, formatUtc } from '../lib/time.ts';

/** A stored UTC time shown in the browser's zone; hovering shows the UTC value. */
export function LocalTime({ value }: { value: string | number | null | undefined }) {
  return <time title={formatUtc(value)}>{formatLocal(value)}</time>;
}
