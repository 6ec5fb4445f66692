import type { Config } from "../config/config.js";
import { createKey, listKeys, revokeKey } from "../keys/key-admin.js";
import { hashPrefix } from "../keys/key-record.js";
import { stringFlag, type ParsedArgs } from "./args.js";
import { cliConnect, cliOpenBucket } from "./connect.js";

export async function keysCommand(config: Config, args: ParsedArgs, out: (line: string) => void): Promise<void> {
  const action = args.positionals[1];
  const nc = await cliConnect(config);
  try {
    const kv = await cliOpenBucket(nc, config.keyBucket);
    if (action === "create") {
      const role = stringFlag(args, "role");
      if (role !== "app" && role !== "admin") throw new Error("keys create needs --role app|admin");
      const created = await createKey(kv, {
        role,
        ...optional("tenantId", stringFlag(args, "tenant")),
        ...optional("appId", stringFlag(args, "app")),
        ...optional("label", stringFlag(args, "label")),
      });
      if (args.flags.has("json")) {
        out(JSON.stringify(created));
      } else {
        out(`API key (shown once, store it now): ${created.apiKey}`);
        out(`hash: ${created.keyHash}`);
        out(`role: ${created.role}${created.role === "app" ? ` tenant=${created.tenantId} app=${created.appId}` : ""}`);
      }
    } else if (action === "revoke") {
      const target = args.positionals[2];
      if (target === undefined) throw new Error("keys revoke needs KEY_OR_HASH_PREFIX");
      const hash = await revokeKey(kv, target);
      out(`revoked ${hashPrefix(hash)}`);
    } else if (action === "list") {
      const keys = await listKeys(kv);
      if (args.flags.has("json")) {
        out(JSON.stringify(keys));
      } else {
        for (const k of keys) {
          const scope = k.role === "admin" ? "*" : `${k.tenantId}/${k.appId}`;
          out(`${k.keyHash}  ${k.role.padEnd(5)}  ${scope}  ${k.label ?? ""}  ${k.createdAt}`);
        }
        if (keys.length === 0) out("(no keys)");
      }
    } else {
      throw new Error("keys needs one of: create, revoke, list");
    }
  } finally {
    await nc.close();
  }
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}
