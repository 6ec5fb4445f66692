import { describe, expect, it } from "vitest";
import { ItemQueue } from "../../../src/client/item-queue.js";

describe("ItemQueue", () => {
  it("hands buffered items out in order, then waits for more", async () => {
    const queue = new ItemQueue<number>();
    queue.push(1);
    queue.push(2);
    expect(await queue.next()).toEqual({ value: 1, done: false });
    expect(await queue.next()).toEqual({ value: 2, done: false });
    const pending = queue.next();
    queue.push(3);
    expect(await pending).toEqual({ value: 3, done: false });
  });

  it("drains buffered items after end(), then finishes", async () => {
    const queue = new ItemQueue<number>();
    queue.push(1);
    queue.end();
    queue.push(2); // ignored after the end
    const seen: number[] = [];
    for await (const n of queue) seen.push(n);
    expect(seen).toEqual([1]);
  });

  it("wakes a waiting consumer on end()", async () => {
    const queue = new ItemQueue<number>();
    const pending = queue.next();
    queue.end();
    expect(await pending).toEqual({ value: undefined, done: true });
  });

  it("throws the end error once, after the buffered items", async () => {
    const queue = new ItemQueue<number>();
    queue.push(1);
    queue.end(new Error("boom"));
    expect(await queue.next()).toEqual({ value: 1, done: false });
    await expect(queue.next()).rejects.toThrow("boom");
    expect(await queue.next()).toEqual({ value: undefined, done: true });
  });

  it("calls onFinish once when the consumer breaks out", async () => {
    let finished = 0;
    const queue = new ItemQueue<number>(() => finished++);
    queue.push(1);
    queue.push(2);
    for await (const n of queue) if (n === 1) break;
    queue.end();
    expect(finished).toBe(1);
    expect(queue.ended).toBe(true);
  });

  it("keeps order across buffer compaction", async () => {
    const queue = new ItemQueue<number>();
    for (let i = 0; i < 5000; i++) queue.push(i);
    for (let i = 0; i < 5000; i++) expect((await queue.next()).value).toBe(i);
  });
});
