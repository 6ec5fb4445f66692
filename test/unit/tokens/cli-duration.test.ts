import { describe, expect, it } from "vitest";
import { parseDurationSeconds } from "../../../src/cli/duration.js";

describe("parseDurationSeconds (sms-ws token --ttl)", () => {
  it.each([
    ["90s", 90],
    ["15m", 900],
    ["2h", 7200],
    ["1d", 86_400],
    ["600", 600],
  ])("%s is %i s", (text, seconds) => {
    expect(parseDurationSeconds(text)).toBe(seconds);
  });

  it.each(["", "0", "0m", "-5m", "1.5h", "15 minutes", "1w", "m"])("refuses %j", (text) => {
    expect(parseDurationSeconds(text)).toBeUndefined();
  });
});
