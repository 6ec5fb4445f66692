/**
 * A real nats-server (JetStream, loopback, free port) configured with exactly the accounts block
 * rendered from src/bus/permissions.ts (src/bus/nats-accounts.ts), with random passwords for this
 * run. Tests connect per role, so a permission or import the code needs but the matrix lacks
 * fails here, not in production. A gateway connection creates consumers as the node's does
 * (useLegacyConsumerCreate).
 */
import { connect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderAuthorization } from "../../src/bus/nats-accounts.js";
import { useLegacyConsumerCreate } from "../../src/bus/nats-connection.js";
import { DEFAULT_ROLES, PERMISSIONS, type RoleName } from "../../src/bus/permissions.js";
import { startNatsServer, type EmbeddedNats } from "../../src/dev/embedded-nats.js";

export interface RoleCredentials {
  readonly user: string;
  readonly pass: string;
  readonly inboxPrefix: string;
}

export interface SecureNats extends EmbeddedNats {
  /** The nats.conf the server runs with (accounts block only; passwords are this run's). */
  readonly configText: string;
  readonly credentials: Readonly<Partial<Record<RoleName, RoleCredentials>>>;
  /** Connection options for a role: servers, user, password and the role's inbox prefix. */
  options(role: RoleName, extra?: Partial<ConnectionOptions>): ConnectionOptions;
  /**
   * Rewrite the config for another STREAM_PARTITIONS (mapping and grants, imports; same passwords) and
   * reload the running server (SIGHUP): the migration's switch.
   */
  reconfigure(partitions: number, options?: { mapping?: boolean }): void;
  /** Connect as a role (fails fast: no waitOnFirstConnect, no reconnect). */
  connect(role: RoleName, extra?: Partial<ConnectionOptions>): Promise<NatsConnection>;
}

/** `partitions`: STREAM_PARTITIONS=K > 1 adds the subject mapping (src/bus/partitions.ts) and the matrix's partition grants. */
export async function startSecureNats(options: { roles?: readonly RoleName[]; args?: string[]; partitions?: number } = {}): Promise<SecureNats> {
  const roles = options.roles ?? DEFAULT_ROLES;
  const passwords: Partial<Record<RoleName, string>> = {};
  const credentials: Partial<Record<RoleName, RoleCredentials>> = {};
  for (const role of roles) {
    const pass = randomBytes(24).toString("hex");
    passwords[role] = pass;
    credentials[role] = { user: PERMISSIONS[role].user, pass, inboxPrefix: PERMISSIONS[role].inboxPrefix };
  }
  const render = (partitions: number, mapping = true): string => renderAuthorization({ roles, passwords, partitions, mapping });
  const configText = render(options.partitions ?? 1);
  const dir = mkdtempSync(join(tmpdir(), "smsws-secure-nats-"));
  const file = join(dir, "nats.conf");
  const storeDir = join(dir, "jetstream");
  writeFileSync(file, configText, { mode: 0o600 });
  let nats: EmbeddedNats;
  try {
    nats = await startNatsServer({ args: ["-c", file, ...(options.args ?? [])], storeDir });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const optionsFor = (role: RoleName, extra: Partial<ConnectionOptions> = {}): ConnectionOptions => {
    const c = credentials[role];
    if (c === undefined) throw new Error(`role ${role} is not configured on this server`);
    return { servers: nats.url, user: c.user, pass: c.pass, inboxPrefix: c.inboxPrefix, name: `test-${role}`, ...extra };
  };
  return {
    ...nats,
    configText,
    credentials,
    options: optionsFor,
    connect: async (role, extra) => {
      const nc = await connect(optionsFor(role, { reconnect: false, ...extra }));
      return role === "gateway" ? useLegacyConsumerCreate(nc) : nc;
    },
    reconfigure(partitions, reconfigureOptions = {}) {
      // A reload takes JetStream from the file alone (the -js flag is forgotten): name it there.
      const jetstreamBlock = `jetstream { store_dir: ${JSON.stringify(storeDir)} }\n`;
      writeFileSync(file, jetstreamBlock + render(partitions, reconfigureOptions.mapping ?? true), { mode: 0o600 });
      nats.process.kill("SIGHUP");
    },
    async stop() {
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
