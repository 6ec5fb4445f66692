/**
 * Which connections an operator means (`sms-ws conns|kick --tenant T --app A --key HASH_PREFIX
 * --signer KID --sub S --node N`): a selector, decided by one pure function over what a node
 * knows of each connection. Every field given must match (AND); a field not given matches all.
 */

export interface Selector {
  readonly tenant?: string;
  readonly app?: string;
  /** A prefix of the API key's SHA-256 hash (hex), as `sms-ws keys list` prints it. */
  readonly key?: string;
  /** The signer (kid) of a connection token. */
  readonly signer?: string;
  /** The token's end user (`sub`). */
  readonly sub?: string;
  /** A node: its service id (or a prefix of it) or its host/pod name. */
  readonly node?: string;
}

export const SELECTOR_FIELDS = ["tenant", "app", "key", "signer", "sub", "node"] as const satisfies readonly (keyof Selector)[];

/** What a node knows of one authenticated connection, as far as selecting it goes. */
export interface ConnectionFacts {
  /** Undefined for an admin connection (it has no tenant). */
  readonly tenant: string | undefined;
  readonly app: string | undefined;
  readonly credential: { readonly kind: "key"; readonly hash: string } | { readonly kind: "token"; readonly kid: string; readonly sub: string | undefined };
}

/** The node a connection lives on. */
export interface NodeFacts {
  readonly id: string;
  readonly name: string;
}

/** Shortest key-hash prefix accepted: shorter ones select too much by accident. */
export const MIN_KEY_PREFIX = 4;
const MAX_FIELD = 256;

export type SelectorParse = { ok: true; selector: Selector } | { ok: false; problem: string };

/** A selector from untrusted JSON (a request payload): unknown fields and non-strings refused. */
export function parseSelector(raw: unknown): SelectorParse {
  if (raw === undefined || raw === null) return { ok: true, selector: {} };
  if (typeof raw !== "object" || Array.isArray(raw)) return { ok: false, problem: "a selector is a JSON object" };
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!(SELECTOR_FIELDS as readonly string[]).includes(name)) return { ok: false, problem: `unknown selector field "${name}"` };
    if (value === undefined) continue;
    if (typeof value !== "string" || value.length === 0 || value.length > MAX_FIELD) return { ok: false, problem: `selector field "${name}" must be a non-empty string` };
    out[name] = value;
  }
  if (out.key !== undefined) {
    if (!/^[0-9a-f]+$/i.test(out.key)) return { ok: false, problem: "--key is a hex prefix of the key hash" };
    if (out.key.length < MIN_KEY_PREFIX) return { ok: false, problem: `--key needs at least ${MIN_KEY_PREFIX} hex characters` };
    out.key = out.key.toLowerCase();
  }
  return { ok: true, selector: out };
}

/** No field given: selects everything (conns lists all; kick refuses it). */
export function isEmptySelector(selector: Selector): boolean {
  return SELECTOR_FIELDS.every((f) => selector[f] === undefined);
}

/** Whether the node itself is selected (a node field that names another node skips the whole node). */
export function selectsNode(selector: Selector, node: NodeFacts): boolean {
  const want = selector.node;
  return want === undefined || node.id.startsWith(want) || node.name === want;
}

/** Whether a connection on `node` matches every field of the selector. */
export function selects(selector: Selector, node: NodeFacts, c: ConnectionFacts): boolean {
  if (!selectsNode(selector, node)) return false;
  if (selector.tenant !== undefined && c.tenant !== selector.tenant) return false;
  if (selector.app !== undefined && c.app !== selector.app) return false;
  const cred = c.credential;
  if (selector.key !== undefined && (cred.kind !== "key" || !cred.hash.startsWith(selector.key))) return false;
  if (selector.signer !== undefined && (cred.kind !== "token" || cred.kid !== selector.signer)) return false;
  if (selector.sub !== undefined && (cred.kind !== "token" || cred.sub !== selector.sub)) return false;
  return true;
}
