/**
 * Which kind of credential a client presented. The seed's `{"type":"auth","apiKey":"..."}`
 * carries either: API keys (`smsws_` + base64url) never contain a dot, a compact JWS has
 * exactly two. Cheap: no allocation, no decoding; the verifier does the rest.
 */
export function isConnectionToken(credential: string): boolean {
  const first = credential.indexOf(".");
  if (first < 0) return false;
  const second = credential.indexOf(".", first + 1);
  return second > 0 && credential.indexOf(".", second + 1) < 0;
}
