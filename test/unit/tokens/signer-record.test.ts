import { describe, expect, it } from "vitest";
import { generateKid, parseSignerRecord, sameSignerGrant, signerAllows } from "../../../src/tokens/signer-record.js";
import { KID_PATTERN } from "../../../src/tokens/limits.js";
import { makeSigner } from "./token-kit.js";

const key = makeSigner("k", { tenantId: "t1" }).record.publicKey;

describe("parseSignerRecord", () => {
  it("reads app-bound and tenant-wide signers", () => {
    expect(parseSignerRecord({ tenantId: "t1", appId: "a1", publicKey: key, label: "web", createdAt: "2026-01-01" })).toEqual({
      tenantId: "t1",
      appId: "a1",
      publicKey: key,
      label: "web",
      createdAt: "2026-01-01",
    });
    expect(parseSignerRecord({ tenantId: "t1", publicKey: key })).toEqual({ tenantId: "t1", publicKey: key, createdAt: "" });
  });

  it.each([
    ["not an object", "t1"],
    ["null", null],
    ["an array", [key]],
    ["no tenantId", { publicKey: key }],
    ["a bad tenantId", { tenantId: "t 1", publicKey: key }],
    ["appId the tenant-wide token", { tenantId: "t1", appId: "_", publicKey: key }],
    ["appId not a string", { tenantId: "t1", appId: 3, publicKey: key }],
    ["no publicKey", { tenantId: "t1" }],
    ["a publicKey of 31 bytes", { tenantId: "t1", publicKey: Buffer.alloc(31).toString("base64url") }],
    ["a publicKey in base64 with padding", { tenantId: "t1", publicKey: `${Buffer.from(key, "base64url").toString("base64")}` }],
    ["a PEM public key", { tenantId: "t1", publicKey: "-----BEGIN PUBLIC KEY-----" }],
    ["a label that is not a string", { tenantId: "t1", publicKey: key, label: 1 }],
  ])("is null (unusable) for %s", (_name, value) => {
    expect(parseSignerRecord(value)).toBeNull();
  });
});

describe("signer scope", () => {
  const appSigner = { tenantId: "t1", appId: "a1", publicKey: key, createdAt: "" };
  const tenantSigner = { tenantId: "t1", publicKey: key, createdAt: "" };

  it("an app signer mints for its app only; a tenant signer for any app of its tenant", () => {
    expect(signerAllows(appSigner, "t1", "a1")).toBe(true);
    expect(signerAllows(appSigner, "t1", "a2")).toBe(false);
    expect(signerAllows(tenantSigner, "t1", "a2")).toBe(true);
    expect(signerAllows(tenantSigner, "t2", "a1")).toBe(false);
  });

  it("a label change keeps the grant; a scope or key change does not", () => {
    expect(sameSignerGrant(appSigner, { ...appSigner, label: "renamed" })).toBe(true);
    expect(sameSignerGrant(appSigner, tenantSigner)).toBe(false);
    expect(sameSignerGrant(appSigner, { ...appSigner, tenantId: "t2" })).toBe(false);
    expect(sameSignerGrant(appSigner, { ...appSigner, publicKey: makeSigner("k2", { tenantId: "t1" }).record.publicKey })).toBe(false);
  });

  it("generates kids that are valid KV keys and header values", () => {
    const kids = new Set(Array.from({ length: 50 }, generateKid));
    expect(kids.size).toBe(50);
    for (const kid of kids) expect(kid).toMatch(KID_PATTERN);
  });
});
