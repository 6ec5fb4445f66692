/**
 * The NATS permission matrix (src/bus/permissions.ts): what each role may and may not do, as
 * nats-server would decide it, the rendered configuration, and docs/security.md in step with it.
 * These assertions fail if a permission is widened; test/integration/nats-permissions.test.ts
 * proves the same on a real server.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_ROLES,
  PERMISSIONS,
  permissionMatrix,
  permits,
  renderPermissionTables,
  subjectMatches,
  type RoleName,
} from "../../src/bus/permissions.js";
import { accountsModel, renderAuthorization } from "../../src/bus/nats-accounts.js";
import { STREAM_MAX_CONSUMERS } from "../../src/bus/stream.js";
import { parseNatsConf, type ConfMap } from "../helpers/nats-conf.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const ROLES = Object.keys(PERMISSIONS) as RoleName[];
const canPublish = (role: RoleName, subject: string) => permits(PERMISSIONS[role].publish, subject);
const canSubscribe = (role: RoleName, subject: string) => permits(PERMISSIONS[role].subscribe, subject);
/** Whether any allow pattern of the role could match some subject starting with `prefix.` */
const anyAllowUnder = (role: RoleName, kind: "publish" | "subscribe", prefix: string) =>
  PERMISSIONS[role][kind].allow.some((g) => {
    const first = g.subject.split(".")[0];
    return first === ">" || first === "*" || g.subject === prefix || g.subject.startsWith(`${prefix}.`);
  });

describe("subjectMatches", () => {
  it("follows NATS wildcards: * one token, > one or more trailing tokens", () => {
    expect(subjectMatches("sms.>", "sms.t.a.status")).toBe(true);
    expect(subjectMatches("sms.>", "sms")).toBe(false);
    expect(subjectMatches("sms.*.*.status", "sms.t.a.status")).toBe(true);
    expect(subjectMatches("sms.*.*.status", "sms.t.a.inbound")).toBe(false);
    expect(subjectMatches("sms.*.*.status", "sms.t.a.status.x")).toBe(false);
    expect(subjectMatches("$JS.API.INFO", "$JS.API.INFO")).toBe(true);
    expect(subjectMatches("$JS.API.INFO", "$JS.API.INFO.x")).toBe(false);
    expect(subjectMatches(">", "anything.at.all")).toBe(true);
  });
});

describe("the gateway role", () => {
  it("reads the stream and the buckets through the JetStream API, and nothing writes", () => {
    for (const subject of [
      "$JS.API.INFO",
      "$JS.API.STREAM.INFO.SMS_EVENTS",
      "$JS.API.CONSUMER.CREATE.SMS_EVENTS",
      "$JS.API.CONSUMER.INFO.SMS_EVENTS.oc_1",
      "$JS.API.CONSUMER.MSG.NEXT.SMS_EVENTS.oc_1",
      "$JS.API.CONSUMER.DELETE.SMS_EVENTS.oc_1",
      "$JS.API.STREAM.INFO.KV_sms_api_keys",
      "$JS.API.CONSUMER.CREATE.KV_sms_api_keys",
      "$JS.API.STREAM.MSG.GET.KV_sms_token_signers",
      "$JS.API.DIRECT.GET.KV_sms_revoked_tokens.$KV.sms_revoked_tokens.jti",
      "$JS.FC.KV_sms_tenants.oc_1.abc",
      "sms-ws.fleet.counts.NODE1",
      "_R_.abc.def",
    ]) {
      expect(canPublish("gateway", subject), subject).toBe(true);
    }
    for (const subject of [
      "$KV.sms_api_keys.0123abcd",
      "$KV.sms_token_signers.kid",
      "$KV.sms_revoked_tokens.jti",
      "$KV.sms_tenants.t1",
      "in.sms.t.a.status",
      "sms.t.a.status",
      "sms.t._.inbound",
      "$JS.API.STREAM.CREATE.SMS_EVENTS",
      "$JS.API.STREAM.UPDATE.SMS_EVENTS",
      "$JS.API.STREAM.DELETE.SMS_EVENTS",
      "$JS.API.STREAM.PURGE.KV_sms_api_keys",
      "$JS.API.STREAM.CREATE.KV_sms_api_keys",
      "$JS.API.STREAM.MSG.DELETE.SMS_EVENTS",
      "$JS.API.CONSUMER.DURABLE.CREATE.SMS_EVENTS.d",
      "$JS.API.CONSUMER.CREATE.SMS_EVENTS.d",
      "$JS.API.CONSUMER.CREATE.SMS_EVENTS.oc_1.in.sms.t.a.*",
      "$JS.API.CONSUMER.CREATE.KV_sms_api_keys.oc_1.$KV.sms_api_keys.>",
      "sms-ws.fleet.kick",
      "sms-ws.fleet.conns",
      "sms-ws.fleet.stats",
      "$SRV.PING.sms-ws-gateway",
      "_INBOX_admin.abc.1",
      "$JS.API.CONSUMER.CREATE.OTHER_STREAM",
      "$JS.API.STREAM.INFO.OTHER_STREAM",
      "_INBOX.abc",
      "_INBOX_gateway.abc",
    ]) {
      expect(canPublish("gateway", subject), subject).toBe(false);
    }
    expect(anyAllowUnder("gateway", "publish", "$KV"), "no $KV publish in the gateway's allow list").toBe(false);
    expect(anyAllowUnder("gateway", "publish", "in"), "no in.sms publish").toBe(false);
    expect(anyAllowUnder("gateway", "publish", "sms"), "no sms publish").toBe(false);
  });

  it("subscribes to live events, its own inbox, its service and fleet subjects only", () => {
    for (const subject of ["sms.>", "sms.t.a.*", "_INBOX_gateway.>", "$SRV.PING", "$SRV.INFO.sms-ws-gateway", "sms-ws.fleet.>"]) {
      expect(canSubscribe("gateway", subject), subject).toBe(true);
    }
    for (const subject of ["_INBOX.>", "_INBOX_admin.>", "$KV.sms_api_keys.>", "in.sms.>", "$JS.API.>", "$SRV.PING.other-service", ">"]) {
      expect(canSubscribe("gateway", subject), subject).toBe(false);
    }
    // Subscribe denies also filter delivered messages: none may match what its reads deliver.
    expect(PERMISSIONS.gateway.subscribe.deny.filter((d) => ["$KV.sms_api_keys.x", "in.sms.t.a.status"].some((s) => subjectMatches(d.subject, s)))).toEqual([]);
  });
});

describe("the producer role", () => {
  it("publishes durable events and reads its acks, nothing else", () => {
    expect(canPublish("producer", "in.sms.t.a.status")).toBe(true);
    expect(canPublish("producer", "in.sms.t._.inbound")).toBe(true);
    for (const subject of ["sms.t.a.status", "$KV.sms_api_keys.x", "$JS.API.INFO", "$JS.API.STREAM.CREATE.EVIL", "$JS.API.STREAM.DELETE.SMS_EVENTS", "_INBOX_admin.x", "sms-ws.fleet.x"]) {
      expect(canPublish("producer", subject), subject).toBe(false);
    }
    expect(canSubscribe("producer", "_INBOX.>")).toBe(true);
    for (const subject of ["sms.>", "sms.t.a.status", "_INBOX_gateway.>", "_INBOX_admin.>", "$KV.>", ">"]) {
      expect(canSubscribe("producer", subject), subject).toBe(false);
    }
  });
});

describe("the admin role", () => {
  it("provisions and writes the buckets, but publishes no event and deletes no stream", () => {
    for (const subject of [
      "$JS.API.STREAM.CREATE.SMS_EVENTS",
      "$JS.API.STREAM.UPDATE.SMS_EVENTS",
      "$JS.API.STREAM.CREATE.KV_sms_revoked_tokens",
      "$JS.API.STREAM.UPDATE.KV_sms_tenants",
      "$KV.sms_api_keys.0123",
      "$KV.sms_token_signers.kid",
      "$KV.sms_revoked_tokens.jti",
      "$KV.sms_tenants.t1",
      "$SRV.PING.sms-ws-gateway",
      "sms-ws.fleet.kick",
      "sms-ws.fleet.conns",
      "sms-ws.fleet.stats",
    ]) {
      expect(canPublish("admin", subject), subject).toBe(true);
    }
    for (const subject of ["sms-ws.fleet.counts.NODE1", "in.sms.t.a.status", "sms.t.a.status", "$JS.API.STREAM.DELETE.SMS_EVENTS", "$JS.API.STREAM.PURGE.KV_sms_api_keys", "$KV.other_bucket.x", "$JS.API.STREAM.CREATE.EVIL"]) {
      expect(canPublish("admin", subject), subject).toBe(false);
    }
    expect(canSubscribe("admin", "_INBOX_admin.>")).toBe(true);
    expect(canSubscribe("admin", "sms.>")).toBe(false);
    expect(canSubscribe("admin", "_INBOX.>")).toBe(false);
  });
});

describe("the opt-in direct producer", () => {
  it("publishes well-formed live subjects only, receives nothing, and is not deployed by default", () => {
    expect(canPublish("directProducer", "sms.t.a.status")).toBe(true);
    expect(canPublish("directProducer", "sms.t._.inbound")).toBe(true);
    expect(canPublish("directProducer", "sms.t.a.other")).toBe(false);
    expect(canPublish("directProducer", "in.sms.t.a.status")).toBe(false);
    expect(canPublish("directProducer", "$KV.sms_api_keys.x")).toBe(false);
    expect(canSubscribe("directProducer", "_INBOX.x")).toBe(false);
    expect(PERMISSIONS.directProducer.optIn).toBe(true);
    expect(DEFAULT_ROLES).not.toContain("directProducer");
  });
});

describe("every role", () => {
  it("has its own user, password variable and (for gateway and admin) an inbox no other role reads", () => {
    expect(new Set(ROLES.map((r) => PERMISSIONS[r].user)).size).toBe(ROLES.length);
    expect(new Set(ROLES.map((r) => PERMISSIONS[r].passwordEnv)).size).toBe(ROLES.length);
    for (const owner of ["gateway", "admin"] as const) {
      const inbox = `${PERMISSIONS[owner].inboxPrefix}.x.y`;
      for (const other of ROLES) {
        if (other !== owner) expect(canSubscribe(other, inbox), `${other} reads ${owner}'s inbox`).toBe(false);
      }
      expect(canSubscribe(owner, inbox)).toBe(true);
    }
  });

  it("never allows everything, and no allow is cancelled by its own deny", () => {
    for (const role of ROLES) {
      for (const kind of ["publish", "subscribe"] as const) {
        const r = PERMISSIONS[role][kind];
        expect(r.allow.map((g) => g.subject), `${role} ${kind}`).not.toContain(">");
        for (const g of r.allow) {
          expect(r.deny.filter((d) => subjectMatches(d.subject, g.subject)), `${role} ${kind} allow ${g.subject} denied by`).toEqual([]);
          expect(g.why.length).toBeGreaterThan(0);
        }
      }
    }
  });

  it("follows KEY_BUCKET when the API-key bucket is renamed", () => {
    const m = permissionMatrix({ apiKeys: "keys_eu" });
    expect(permits(m.admin.publish, "$KV.keys_eu.x")).toBe(true);
    expect(permits(m.admin.publish, "$KV.sms_api_keys.x")).toBe(false);
    expect(permits(m.gateway.publish, "$JS.API.STREAM.INFO.KV_keys_eu")).toBe(true);
    expect(permits(m.gateway.publish, "$KV.keys_eu.x")).toBe(false);
  });
});

describe("renderAuthorization: the accounts block", () => {
  const accounts = (text: string) => parseNatsConf(text).accounts as ConfMap;
  const users = (text: string): ConfMap[] =>
    Object.values(accounts(text)).flatMap((a) => ((a as ConfMap).users ?? []) as ConfMap[]);
  const accountOf = (text: string, user: string): string =>
    Object.entries(accounts(text)).find(([, a]) => (((a as ConfMap).users ?? []) as ConfMap[]).some((u) => u.user === user))![0];

  it("puts each role in its account, with $ENV password references and no anonymous access", () => {
    const text = renderAuthorization();
    expect(Object.keys(accounts(text))).toEqual(["DATA", "GATEWAY", "PRODUCER"]);
    expect(users(text).map((u) => u.user)).toEqual(["admin", "gateway", "producer"]);
    expect(users(text).map((u) => u.password)).toEqual(["$NATS_ADMIN_PASSWORD", "$NATS_GATEWAY_PASSWORD", "$NATS_PRODUCER_PASSWORD"]);
    for (const role of DEFAULT_ROLES) expect(accountOf(text, PERMISSIONS[role].user), role).toBe(PERMISSIONS[role].account);
    expect(text).not.toMatch(/^\s*no_auth_user\s*[:=]/m);
    expect(text).not.toMatch(/allow_responses/);
    expect(text).not.toMatch(/^authorization/m);
    const gw = (users(text)[1]!.permissions as ConfMap).publish as ConfMap;
    expect(gw.allow).toEqual(PERMISSIONS.gateway.publish.allow.map((g) => g.subject));
    expect(gw.deny).toEqual(PERMISSIONS.gateway.publish.deny.map((g) => g.subject));
  });

  it("enables JetStream in DATA only, with the per-stream consumer cap", () => {
    const a = accounts(renderAuthorization());
    expect((a.DATA as ConfMap).jetstream).toEqual({ max_consumers: String(STREAM_MAX_CONSUMERS) });
    expect((a.GATEWAY as ConfMap).jetstream).toBeUndefined();
    expect((a.PRODUCER as ConfMap).jetstream).toBeUndefined();
  });

  it("imports exactly what another account exports to it, and nothing that writes", () => {
    const model = accountsModel(PERMISSIONS, [...DEFAULT_ROLES, "directProducer"]);
    const byName = Object.fromEntries(model.map((m) => [m.name, m]));
    for (const m of model) {
      for (const i of m.imports) {
        const e = byName[i.from]!.exports.find((x) => x.kind === i.kind && x.subject === i.subject);
        expect(e, `${m.name} imports ${i.kind} ${i.subject} from ${i.from}`).toBeDefined();
        expect(e!.to).toContain(m.name);
      }
      for (const e of m.exports) expect(e.to, `${m.name} exports ${e.subject} to itself`).not.toContain(m.name);
    }
    const dataExports = byName.DATA!.exports.map((e) => e.subject);
    for (const forbidden of ["$KV.", "$JS.API.STREAM.CREATE", "$JS.API.STREAM.UPDATE", "$JS.API.STREAM.DELETE", "$JS.API.STREAM.PURGE", "$JS.API.CONSUMER.DURABLE"]) {
      expect(dataExports.filter((x) => x.startsWith(forbidden)), forbidden).toEqual([]);
    }
    expect(dataExports.filter((x) => /^\$JS\.API\.CONSUMER\.CREATE\.[^.]+\./.test(x)), "only the legacy (ephemeral) create form").toEqual([]);
    const next = byName.DATA!.exports.find((e) => e.subject === "$JS.API.CONSUMER.MSG.NEXT.SMS_EVENTS.*");
    expect(next).toMatchObject({ kind: "service", streamed: true, to: ["GATEWAY"] });
    expect(byName.DATA!.exports.filter((e) => e.kind === "stream").map((e) => e.subject).sort()).toEqual(["_INBOX_gateway.>", "sms.>"]);
    expect(byName.PRODUCER!.imports).toEqual([{ kind: "service", subject: "in.sms.>", from: "DATA" }]);
    expect(byName.PRODUCER!.exports).toEqual([]);
    // The fleet plane: the nodes' services, to the admin's account only, every node answering.
    expect(byName.GATEWAY!.exports.map((e) => [e.subject, e.to, e.streamed])).toEqual([
      ["$SRV.*", ["DATA"], true],
      ["$SRV.*.sms-ws-gateway", ["DATA"], true],
      ["$SRV.*.sms-ws-gateway.*", ["DATA"], true],
      ["sms-ws.fleet.conns", ["DATA"], true],
      ["sms-ws.fleet.kick", ["DATA"], true],
      ["sms-ws.fleet.stats", ["DATA"], true],
    ]);
    expect(byName.GATEWAY!.exports.some((e) => e.subject.startsWith("sms-ws.fleet.counts"))).toBe(false);
  });

  it("renders the partition mapping in PRODUCER, where producers publish, and only when asked", () => {
    const producer = (text: string) => accounts(text).PRODUCER as ConfMap;
    expect(producer(renderAuthorization({ partitions: 4 })).mappings).toEqual({
      "in.sms.*.*.*": "in.sms.{{partition(4,1)}}.{{wildcard(1)}}.{{wildcard(2)}}.{{wildcard(3)}}",
    });
    expect(producer(renderAuthorization({ partitions: 4, mapping: false })).mappings).toBeUndefined();
    expect(producer(renderAuthorization()).mappings).toBeUndefined();
    expect(renderAuthorization({ partitions: 4 })).toContain('"$JS.API.CONSUMER.MSG.NEXT.SMS_EVENTS_3.*"');
  });

  it("takes literal passwords and user names, and renders the opt-in role denying every subscription", () => {
    const text = renderAuthorization({
      roles: ["producer", "directProducer"],
      passwords: { producer: "a".repeat(32) },
      users: { directProducer: "carrier-bridge" },
    });
    const parsed = users(text);
    expect(parsed.map((u) => [u.user, u.password])).toEqual([
      ["carrier-bridge", "$NATS_DIRECT_PRODUCER_PASSWORD"],
      ["producer", "a".repeat(32)],
    ]);
    expect(accountOf(text, "carrier-bridge")).toBe("GATEWAY");
    const sub = (parsed[0]!.permissions as ConfMap).subscribe as ConfMap;
    expect(sub.allow).toBeUndefined();
    expect(sub.deny).toEqual([">"]);
  });

  it("refuses unsafe passwords and user names, and a role that would allow everything", () => {
    expect(() => renderAuthorization({ passwords: { gateway: "short" } })).toThrow(/gateway/);
    expect(() => renderAuthorization({ passwords: { gateway: `${"a".repeat(20)}"\n}` } })).toThrow(/gateway/);
    expect(() => renderAuthorization({ users: { admin: "bad user" } })).toThrow(/admin/);
    const open = permissionMatrix();
    const wide = { ...open, producer: { ...open.producer, subscribe: { allow: [], deny: [] } } };
    expect(() => renderAuthorization({ matrix: wide })).toThrow(/allow everything/);
  });
});

describe("docs/security.md", () => {
  it("shows the matrix exactly as src/bus/permissions.ts defines it", () => {
    const doc = readFileSync(resolve(repoRoot, "docs/security.md"), "utf8");
    const begin = doc.indexOf("<!-- permissions:begin");
    const end = doc.indexOf("<!-- permissions:end -->");
    expect(begin, "permissions:begin marker").toBeGreaterThan(0);
    expect(end, "permissions:end marker").toBeGreaterThan(begin);
    const body = doc.slice(doc.indexOf("\n", begin) + 1, end);
    // On a mismatch, paste renderPermissionTables() between the markers.
    expect(body).toBe(renderPermissionTables());
  });
});
