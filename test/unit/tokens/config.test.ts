import { describe, expect, it } from "vitest";
import { helpText, loadConfig } from "../../../src/config/config.js";
import { BUCKETS } from "../../../src/bus/buckets.js";
import { ConfigError } from "../../../src/errors.js";
import { DEFAULT_TOKEN_MAX_TTL_S } from "../../../src/tokens/limits.js";

describe("token settings", () => {
  it("default to the spec's values and the bus contract's bucket names", () => {
    const c = loadConfig({});
    expect(c.tokenMaxTtlS).toBe(DEFAULT_TOKEN_MAX_TTL_S);
    expect(c.signerBucket).toBe(BUCKETS.tokenSigners);
    expect(c.revokedTokensBucket).toBe(BUCKETS.revokedTokens);
    for (const env of ["TOKEN_MAX_TTL_S", "SIGNER_BUCKET", "REVOKED_TOKENS_BUCKET"]) expect(helpText()).toContain(env);
  });

  it("parses values", () => {
    const c = loadConfig({ TOKEN_MAX_TTL_S: "3600", SIGNER_BUCKET: "signers-eu", REVOKED_TOKENS_BUCKET: "revoked_eu" });
    expect([c.tokenMaxTtlS, c.signerBucket, c.revokedTokensBucket]).toEqual([3600, "signers-eu", "revoked_eu"]);
  });

  it.each([
    ["TOKEN_MAX_TTL_S", "15m"],
    ["TOKEN_MAX_TTL_S", "59"],
    ["TOKEN_MAX_TTL_S", String(31 * 86400)],
    ["SIGNER_BUCKET", "sms.token.signers"],
    ["REVOKED_TOKENS_BUCKET", "a b"],
  ])("rejects %s=%s naming the variable and value", (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(`${name}=${JSON.stringify(value)} is invalid`);
  });
});
