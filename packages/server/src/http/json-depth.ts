/**
 * Nesting depth of a parsed JSON value, measured without recursion (a body nested 100,000
 * levels deep must not overflow the stack of the one measuring it). Stops as soon as the depth
 * passes `limit`, so a hostile body costs no more than the part of it below the limit.
 */
export function jsonDepthExceeds(value: unknown, limit: number): boolean {
  // Depth of a scalar is 0; of {} or [] 1; of {"a":{}} 2.
  const stack: { v: unknown; d: number }[] = [{ v: value, d: 0 }];
  while (stack.length > 0) {
    const { v, d } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push({ v: child, d: d + 1 });
    }
  }
  return false;
}
