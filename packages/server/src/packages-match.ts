/**
 * Which package os/arch a host gets. Agents report `os` as they see it (e.g. "Linux 6.1.0-13")
 * and `arch` as uname or Node spells it; uploads are keyed by family and uname arch
 * ("linux", "x86_64"), as in design.md §5's packages/{os}/{arch}/ layout.
 */
const ARCH_ALIASES: Record<string, string> = { x64: 'x86_64', amd64: 'x86_64', arm64: 'aarch64', ia32: 'i686' };

export function packageOs(reported: string): string {
  return (reported.trim().split(/[\s_/-]/)[0] ?? '').toLowerCase();
}

export function packageArch(reported: string): string {
  const a = reported.trim();
  return ARCH_ALIASES[a.toLowerCase()] ?? a;
}
