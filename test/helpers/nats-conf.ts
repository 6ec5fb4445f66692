/**
 * A small reader for the nats-server configuration format, enough to check the shipped nats.conf
 * structurally: maps (`key { }`, `key: { }`), arrays, quoted and bare values, `#`/`//` comments,
 * `key: value` / `key = value` / `key value`. `include <file>` lines are collected in `$include`.
 * Values stay strings (`$VAR` references included); numbers and booleans are not converted.
 */
export type ConfValue = string | ConfValue[] | ConfMap;
export interface ConfMap {
  [key: string]: ConfValue;
}

export function parseNatsConf(text: string): ConfMap {
  const p = new Parser(text);
  const map = p.mapBody(null);
  return map;
}

class Parser {
  #i = 0;
  constructor(private readonly s: string) {}

  mapBody(close: "}" | null): ConfMap {
    const out: ConfMap = {};
    for (;;) {
      this.#skip(true);
      const c = this.s[this.#i];
      if (c === undefined) {
        if (close !== null) throw this.#error(`missing ${close}`);
        return out;
      }
      if (c === close) {
        this.#i++;
        return out;
      }
      if (c === "," || c === ";") {
        this.#i++;
        continue;
      }
      const key = this.#key();
      this.#skip(false);
      if (key === "include") {
        const includes = (out.$include ??= []) as ConfValue[];
        includes.push(this.#bare());
        continue;
      }
      if (this.s[this.#i] === ":" || this.s[this.#i] === "=") {
        this.#i++;
        this.#skip(false);
      }
      out[key] = this.#value();
    }
  }

  #value(): ConfValue {
    const c = this.s[this.#i];
    if (c === "{") {
      this.#i++;
      return this.mapBody("}");
    }
    if (c === "[") {
      this.#i++;
      return this.#array();
    }
    if (c === '"' || c === "'") return this.#quoted(c);
    return this.#bare();
  }

  #array(): ConfValue[] {
    const out: ConfValue[] = [];
    for (;;) {
      this.#skip(true);
      const c = this.s[this.#i];
      if (c === undefined) throw this.#error("missing ]");
      if (c === "]") {
        this.#i++;
        return out;
      }
      if (c === ",") {
        this.#i++;
        continue;
      }
      out.push(this.#value());
    }
  }

  #key(): string {
    const c = this.s[this.#i];
    if (c === '"' || c === "'") return this.#quoted(c);
    const m = /^[^\s:={}[\],#]+/.exec(this.s.slice(this.#i));
    if (!m) throw this.#error("expected a key");
    this.#i += m[0].length;
    return m[0];
  }

  #quoted(q: string): string {
    let out = "";
    for (this.#i++; this.#i < this.s.length; this.#i++) {
      const c = this.s[this.#i] as string;
      if (c === "\\" && q === '"') {
        out += this.s[++this.#i] ?? "";
        continue;
      }
      if (c === q) {
        this.#i++;
        return out;
      }
      out += c;
    }
    throw this.#error("unterminated string");
  }

  #bare(): string {
    const m = /^[^\s,\]}#;]+/.exec(this.s.slice(this.#i));
    if (!m) throw this.#error("expected a value");
    this.#i += m[0].length;
    return m[0];
  }

  /** Skip blanks and comments; newlines too when `newlines`. */
  #skip(newlines: boolean): void {
    for (;;) {
      const rest = this.s.slice(this.#i);
      const m = (newlines ? /^(?:\s+|#[^\n]*|\/\/[^\n]*)/ : /^(?:[ \t]+)/).exec(rest);
      if (!m || m[0].length === 0) return;
      this.#i += m[0].length;
    }
  }

  #error(what: string): Error {
    const line = this.s.slice(0, this.#i).split("\n").length;
    return new Error(`nats.conf line ${line}: ${what}`);
  }
}
