// CRC-64-AVRO (the Rabin fingerprint of the Avro specification, "Schema Fingerprints").
// Computed once per schema at load, so BigInt arithmetic is fast enough.

const EMPTY = 0xc15d213aa4d7a795n;
const MASK = 0xffffffffffffffffn;

const TABLE: bigint[] = (() => {
  const t: bigint[] = [];
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i);
    for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n));
    t.push(fp & MASK);
  }
  return t;
})();

/** The 64-bit fingerprint of `text` (UTF-8), as an unsigned BigInt. */
export function crc64Avro(text: string): bigint {
  let fp = EMPTY;
  for (const byte of Buffer.from(text, 'utf8')) {
    fp = (fp >> 8n) ^ (TABLE[Number((fp ^ BigInt(byte)) & 0xffn)] as bigint);
  }
  return fp & MASK;
}

/** The fingerprint as the 8 little-endian bytes that single-object encoding puts after the marker. */
export function fingerprintBytes(fp: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(fp);
  return b;
}
