/**
 * Strict base64url (RFC 4648 section 5, no padding), as JWS requires (RFC 7515 section 2).
 * Node's decoder is lenient (it skips foreign characters and accepts padding); a token must have
 * exactly one spelling, so anything but the canonical encoding of its bytes is refused.
 */

const ALPHABET = /^[A-Za-z0-9_-]*$/;

/** The bytes, or undefined when `text` is not canonical unpadded base64url. */
export function decodeBase64Url(text: string): Buffer | undefined {
  // A length of 4n+1 characters cannot encode whole bytes.
  if (!ALPHABET.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, "base64url");
  // Non-zero unused bits in the last character decode to the same bytes as the canonical form:
  // re-encoding tells them apart.
  if (bytes.toString("base64url") !== text) return undefined;
  return bytes;
}

export function encodeBase64Url(bytes: Uint8Array | string): string {
  return Buffer.from(bytes).toString("base64url");
}
