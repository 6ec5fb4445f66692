import { describe, expect, it } from "vitest";
import { isConnectionToken } from "../../../src/tokens/credential.js";
import { refreshKeepsScope } from "../../../src/tokens/refresh-scope.js";
import type { TokenAccepted } from "../../../src/tokens/verdict.js";

describe("isConnectionToken", () => {
  it.each([
    ["eyJh.eyJ0.c2ln", true],
    ["a.b.", true],
    ["smsws_AbC-_0123456789", false],
    ["a.b", false],
    ["a.b.c.d", false],
    ["..", true], // shape only: the verifier then refuses it
    ["", false],
  ])("%j -> %s", (credential, expected) => {
    expect(isConnectionToken(credential)).toBe(expected);
  });
});

describe("refreshKeepsScope", () => {
  const accepted = (tenantId: string, appId: string): TokenAccepted => ({
    ok: true,
    claims: { tenantId, appId, iat: 1, exp: 2 },
    scope: { role: "app", tenantId, appId },
    kid: "sig_other",
    expMs: 2000,
  });
  const scope = { role: "app", tenantId: "t1", appId: "a1" } as const;

  it("allows the same tenant and app (any signer), refuses another", () => {
    expect(refreshKeepsScope(scope, accepted("t1", "a1"))).toBe(true);
    expect(refreshKeepsScope(scope, accepted("t1", "a2"))).toBe(false);
    expect(refreshKeepsScope(scope, accepted("t2", "a1"))).toBe(false);
  });
});
