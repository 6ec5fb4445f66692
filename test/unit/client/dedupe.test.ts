import { describe, expect, it } from "vitest";
import { EventIdWindow } from "../../../src/client/index.js";

describe("EventIdWindow", () => {
  it("reports a repeated id as a duplicate", () => {
    const window = new EventIdWindow(3);
    expect(window.add("a")).toBe(true);
    expect(window.add("b")).toBe(true);
    expect(window.add("a")).toBe(false);
    expect(window.size).toBe(2);
  });

  it("forgets the oldest id once full, so memory stays bounded", () => {
    const window = new EventIdWindow(3);
    for (const id of ["a", "b", "c", "d"]) window.add(id);
    expect(window.size).toBe(3);
    expect(window.has("a")).toBe(false);
    expect(window.has("d")).toBe(true);
    expect(window.add("a")).toBe(true); // forgotten, so accepted again (and evicts "b")
    expect(window.has("b")).toBe(false);
  });

  it("holds 10 000 ids by default-sized use without growing past capacity", () => {
    const window = new EventIdWindow(10_000);
    for (let i = 0; i < 25_000; i++) window.add(`evt_${i}`);
    expect(window.size).toBe(10_000);
    expect(window.has("evt_14999")).toBe(false);
    expect(window.has("evt_15000")).toBe(true);
  });

  it("rejects a capacity below 1", () => {
    expect(() => new EventIdWindow(0)).toThrow(RangeError);
  });
});
