import { describe, expect, it } from "vitest";
import { decodeBase64Url, encodeBase64Url } from "../../../src/tokens/base64url.js";
import { parseCompactJws } from "../../../src/tokens/jws.js";
import { b64 } from "./token-kit.js";

describe("strict base64url", () => {
  it("round-trips every length", () => {
    for (let n = 0; n < 40; n++) {
      const bytes = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff));
      expect(decodeBase64Url(encodeBase64Url(bytes))).toEqual(bytes);
    }
  });

  it.each([
    ["padding", "YQ=="],
    ["standard alphabet +", "a+b"],
    ["standard alphabet /", "a/b"],
    ["whitespace", "YW Jj"],
    ["4n+1 characters", "YWJjZ"],
    ["unused bits set in the last character", "YR"],
  ])("refuses %s", (_name, text) => {
    expect(decodeBase64Url(text)).toBeUndefined();
  });
});

describe("parseCompactJws", () => {
  it("splits a compact JWS into header, payload, signing input and signature", () => {
    const token = `${b64({ alg: "EdDSA" })}.${b64({ a: 1 })}.${encodeBase64Url(Buffer.from([1, 2, 3]))}`;
    const parsed = parseCompactJws(token);
    expect(parsed).toEqual({
      ok: true,
      jws: {
        header: { alg: "EdDSA" },
        payload: { a: 1 },
        signingInput: token.slice(0, token.lastIndexOf(".")),
        signature: Buffer.from([1, 2, 3]),
      },
    });
  });

  it("keeps __proto__ as a plain own property (no prototype pollution)", () => {
    const parsed = parseCompactJws(`${b64('{"__proto__":{"polluted":1}}')}.${b64({})}.`);
    expect(parsed.ok).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
