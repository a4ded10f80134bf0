/**
 * The host's PKCS#10 certificate request (RFC 2986), DER-encoded by hand and signed with
 * node:crypto: an EC P-256 key, subject CN = agentsn, no attributes, ecdsa-with-SHA256.
 *
 * Why not @peculiar/x509: it and its ASN.1 stack (with reflect-metadata and tsyringe) are about
 * half a megabyte of source that V8 keeps for the process's life once evaluated, ~3.5 MB of RSS
 * for a daemon that needs one CSR at registration and one at each certificate renewal
 * (docs/boot-agent.md "Idle memory"). The server still parses and verifies the request with
 * @peculiar/x509 (packages/server/src/trust/host-ca.ts); the unit test checks that it does.
 */
import { type KeyObject, sign } from 'node:crypto';

/** One DER element: tag, definite length, content. */
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  // Short form below 128; long form with as few length bytes as needed above.
  const len =
    n < 0x80
      ? [n]
      : n < 0x100
        ? [0x81, n]
        : n < 0x10000
          ? [0x82, n >> 8, n & 0xff]
          : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  if (n >= 0x1000000) throw new Error('DER element too long');
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
}

const SEQUENCE = 0x30;
const SET = 0x31;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OID = 0x06;
const UTF8_STRING = 0x0c;
/** [0] IMPLICIT, constructed: the request's attributes. */
const ATTRIBUTES = 0xa0;

/** 2.5.4.3 commonName. */
const OID_COMMON_NAME = Buffer.from([0x55, 0x04, 0x03]);
/** 1.2.840.10045.4.3.2 ecdsa-with-SHA256 (parameters absent, RFC 5758 §3.2). */
const OID_ECDSA_WITH_SHA256 = Buffer.from([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);

/** A DER certificate request for `privateKey`'s public half, subject CN = commonName. */
export function certificateRequestDer(privateKey: KeyObject, publicKey: KeyObject, commonName: string): Buffer {
  if (privateKey.asymmetricKeyType !== 'ec') throw new Error('certificate request: an EC key is required');
  const subject = tlv(
    SEQUENCE,
    tlv(SET, tlv(SEQUENCE, tlv(OID, OID_COMMON_NAME), tlv(UTF8_STRING, Buffer.from(commonName, 'utf8')))),
  );
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const info = tlv(SEQUENCE, tlv(INTEGER, Buffer.from([0])), subject, spki, tlv(ATTRIBUTES));
  // node:crypto signs an EC key as a DER Ecdsa-Sig-Value: what the BIT STRING holds.
  const signature = sign('sha256', info, privateKey);
  return tlv(
    SEQUENCE,
    info,
    tlv(SEQUENCE, tlv(OID, OID_ECDSA_WITH_SHA256)),
    tlv(BIT_STRING, Buffer.from([0]), signature),
  );
}

/** PEM armour, base64 in lines of 64 (RFC 7468). */
export function certificateRequestPem(der: Buffer): string {
  const b64 = der.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN CERTIFICATE REQUEST-----\n${lines.join('\n')}\n-----END CERTIFICATE REQUEST-----`;
}
