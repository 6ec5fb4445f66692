#!/usr/bin/env node
/** sms-ws: the command-line entry point. */
import { ConfigError } from "../errors.js";
import { loadConfig } from "../config/config.js";
import { createLogger } from "../log.js";
import { loadUws } from "../runtime/uws-runtime.js";
import { parseArgs } from "./args.js";
import { devCommand } from "./dev-command.js";
import { fleetCommand } from "./fleet-command.js";
import { fleetKeyCommand } from "./fleet-key-command.js";
import { keysCommand } from "./keys-command.js";
import { provisionCommand } from "./provision-command.js";
import { publishCommand } from "./publish-command.js";
import { serve } from "./serve-command.js";
import { signersCommand } from "./signers-command.js";
import { tokenCommand } from "./token-command.js";
import { tokensCommand } from "./tokens-command.js";
import { usage } from "./usage.js";

const out = (line: string): void => void process.stdout.write(`${line}\n`);

async function main(argv: string[]): Promise<void> {
  // `--json` is a switch for `keys` but takes the event for `publish`.
  const switches = argv[0] === "publish" ? ["direct", "help"] : ["json", "direct", "simulate", "help", "print-nats-config", "direct-producer", "once"];
  const args = parseArgs(argv, switches);
  const command = args.positionals[0];
  if (args.flags.has("help") || command === "help" || command === undefined) {
    out(usage());
    if (command === undefined && !args.flags.has("help")) process.exitCode = 2;
    return;
  }
  const level = process.env.LOG_LEVEL || "info";
  switch (command) {
    case "serve": {
      // The start-up check: uWS is loaded here, never at import, so the other commands run anywhere.
      loadUws();
      const config = loadConfig();
      await serve(config, createLogger(config.logLevel));
      return;
    }
    case "dev":
      // Before the local nats-server starts: nothing to clean up when the runtime is wrong.
      loadUws();
      await devCommand(process.env, args, createLogger(level), out);
      return;
    case "publish":
      await publishCommand(loadConfig(), args, out);
      return;
    case "keys":
      await keysCommand(loadConfig(), args, out);
      return;
    case "provision":
      await provisionCommand(loadConfig(), args, out);
      return;
    case "signers":
      await signersCommand(loadConfig(), args, out);
      return;
    case "token":
      await tokenCommand(args, out);
      return;
    case "tokens":
      await tokensCommand(loadConfig(), args, out);
      return;
    case "conns":
    case "kick":
    case "top":
      process.exitCode = await fleetCommand(loadConfig(), args, out, (line) => void process.stderr.write(`${line}\n`));
      return;
    case "fleet-key":
      fleetKeyCommand(args, out);
      return;
    default:
      throw new Error(`unknown command "${command}" (see sms-ws --help)`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`sms-ws: configuration error: ${err.message}\n`);
  } else {
    process.stderr.write(`sms-ws: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  process.exit(1);
});
