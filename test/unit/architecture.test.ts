/**
 * The import structure of src/, checked: no cycles, layers only import downwards, the SDK stands
 * alone, and the composition root has no casts and nothing filled in later. See
 * docs/architecture.md for the picture these rules keep true.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(__dirname, "../../src");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : [];
  });
}

interface Import {
  target: string;
  typeOnly: boolean;
}

/** Relative imports of a file (the ones inside src/), resolved to source paths. */
function importsOf(file: string): Import[] {
  const text = readFileSync(file, "utf8");
  const out: Import[] = [];
  for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+"(\.[^"]+)"/gms)) {
    const spec = (m[3] as string).replace(/\.js$/, ".ts");
    out.push({ target: resolve(dirname(file), spec), typeOnly: m[2] !== undefined });
  }
  return out;
}

const graph = new Map(files(SRC).map((f) => [f, importsOf(f)]));
const rel = (f: string): string => relative(SRC, f);
const folder = (f: string): string => rel(f).split("/")[0] as string;

describe("architecture", () => {
  it("reads a non-trivial graph (the rules below would pass on nothing)", () => {
    expect(graph.size).toBeGreaterThan(40);
    expect([...graph.values()].flat().length).toBeGreaterThan(100);
    for (const imports of graph.values()) for (const i of imports) expect(graph.has(i.target), `${rel(i.target)} exists`).toBe(true);
  });

  it("has no import cycles", () => {
    const state = new Map<string, "visiting" | "done">();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "visiting") {
        cycles.push([...path.slice(path.indexOf(file)), file].map(rel).join(" -> "));
        return;
      }
      state.set(file, "visiting");
      for (const i of graph.get(file) ?? []) if (!i.typeOnly) visit(i.target, [...path, file]);
      state.set(file, "done");
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it("has no cycles between folders either, type-only imports included", () => {
    const edges = new Map<string, Set<string>>();
    for (const [file, imports] of graph) {
      for (const i of imports) {
        const [from, to] = [folder(file), folder(i.target)];
        if (from !== to) edges.set(from, (edges.get(from) ?? new Set()).add(to));
      }
    }
    const reaches = (from: string, to: string, seen = new Set<string>()): boolean =>
      [...(edges.get(from) ?? [])].some((next) => next === to || (!seen.has(next) && (seen.add(next), reaches(next, to, seen))));
    const cycles = [...edges].flatMap(([from, tos]) => [...tos].filter((to) => reaches(to, from)).map((to) => `${from} <-> ${to}`));
    expect(cycles).toEqual([]);
  });

  it("imports only downwards: resume never imports server, bus never imports resume or server", () => {
    const forbidden: Record<string, string[]> = {
      resume: ["server", "node.ts", "cli"],
      bus: ["resume", "server", "node.ts", "cli"],
      protocol: ["server", "resume", "bus", "node.ts", "cli"],
      scope: ["server", "resume", "node.ts", "cli"],
      events: ["server", "resume", "bus", "scope", "protocol", "node.ts", "cli"],
      server: ["node.ts", "cli"],
      fleet: ["server", "resume", "node.ts", "cli"],
    };
    const violations: string[] = [];
    for (const [file, imports] of graph) {
      const bans = forbidden[folder(file)] ?? [];
      for (const i of imports) if (bans.includes(folder(i.target))) violations.push(`${rel(file)} imports ${rel(i.target)}`);
    }
    expect(violations).toEqual([]);
  });

  it("keeps the SDK standalone: src/client imports only src/client (type-only imports aside)", () => {
    const violations: string[] = [];
    for (const [file, imports] of graph) {
      if (folder(file) !== "client") continue;
      for (const i of imports) if (!i.typeOnly && folder(i.target) !== "client") violations.push(`${rel(file)} imports ${rel(i.target)}`);
    }
    expect(violations).toEqual([]);
  });

  it("cites files of this repository in comments, not an outside spec", () => {
    const cited = [...graph.keys()].filter((f) => /\bSPEC\b/.test(readFileSync(f, "utf8"))).map(rel);
    expect(cited).toEqual([]);
  });

  it("composes the node with no casts and nothing filled in later", () => {
    const root = readFileSync(join(SRC, "node.ts"), "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
    expect(root.match(/\bas\s+(?!const\b)[A-Za-z_]/g) ?? []).toEqual([]);
    expect(root.match(/\blet\s/g) ?? []).toEqual([]);
    expect(root.match(/\.\w+\s*=\s*(?!=)/g)?.filter((a) => !a.startsWith(".streamChecked") && !a.startsWith(".natsConnected") && !a.startsWith(".keysLoaded") && !a.startsWith(".draining")) ?? []).toEqual([]);
  });
});
