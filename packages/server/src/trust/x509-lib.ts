/**
 * @peculiar/x509, loaded on first use only (node:crypto cannot issue certificates): a server
 * that never issues one does not pay for it. tsyringe inside it needs the reflect polyfill first.
 */
type X509Lib = typeof import('@peculiar/x509');

let lib: Promise<X509Lib> | undefined;

export function loadX509(): Promise<X509Lib> {
  lib ??= (async () => {
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(globalThis.crypto);
    return x509;
  })();
  return lib;
}
