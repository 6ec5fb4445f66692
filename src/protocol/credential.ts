/**
 * What an authenticated socket proved itself with: an API key (by its hash) or a connection token
 * (by its signer, id, end user and expiry). Revocation and expiry match on these fields.
 */
export type Credential =
  | { readonly kind: "key"; readonly hash: string }
  | { readonly kind: "token"; readonly kid: string; readonly jti: string | undefined; readonly sub: string | undefined; readonly expMs: number };

/** Who replays, for the per-credential replay cap: the key, or every token of one signer. */
export function credentialOwner(credential: Credential): string {
  return credential.kind === "key" ? `key:${credential.hash}` : `signer:${credential.kid}`;
}

/** For logs: a key-hash prefix, or the signer and the token's end user (never the secret). */
export function credentialLogFields(credential: Credential): Record<string, string> {
  if (credential.kind === "key") return { keyHash: credential.hash.slice(0, 8) };
  return { kid: credential.kid, ...(credential.sub === undefined ? {} : { sub: credential.sub }), ...(credential.jti === undefined ? {} : { jti: credential.jti }) };
}
