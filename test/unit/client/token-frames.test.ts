import { describe, expect, it } from "vitest";
import { parseServerFrame } from "../../../src/client/frames.js";
import { closeAction } from "../../../src/client/index.js";

describe("parseServerFrame: token frames", () => {
  it("reads exp on auth_ok, dropping a malformed one", () => {
    expect(parseServerFrame('{"type":"auth_ok","epoch":"E1","exp":1800000900}')).toEqual({ type: "auth_ok", epoch: "E1", exp: 1800000900 });
    expect(parseServerFrame('{"type":"auth_ok","exp":"soon"}')).toEqual({ type: "auth_ok" });
    expect(parseServerFrame('{"type":"auth_ok","exp":-1}')).toEqual({ type: "auth_ok" });
  });

  it("reads refresh_ok, and calls one without a numeric exp invalid", () => {
    expect(parseServerFrame('{"type":"refresh_ok","exp":1800000900}')).toEqual({ type: "refresh_ok", exp: 1800000900 });
    expect(parseServerFrame('{"type":"refresh_ok"}')).toEqual({ type: "invalid", problem: "refresh_ok without a numeric exp" });
    expect(parseServerFrame('{"type":"refresh_ok","exp":"1800000900"}').type).toBe("invalid");
  });

  it("a 4419 (token expired) is a reconnect with a fresh credential, never a stop", () => {
    expect(closeAction(4419)).toEqual({ kind: "reconnect", freshCredential: true });
  });
});
