/** A small argv parser: positionals plus --flag value / --flag=value / --switch. */
export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string | true>;
}

export function parseArgs(argv: readonly string[], switches: readonly string[] = []): ParsedArgs {
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith("--")) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    if (eq > 0) {
      flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    } else if (switches.includes(arg.slice(2)) || i + 1 >= argv.length || (argv[i + 1] as string).startsWith("--")) {
      flags.set(arg.slice(2), true);
    } else {
      flags.set(arg.slice(2), argv[++i] as string);
    }
  }
  return { positionals, flags };
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === "string" ? v : undefined;
}

/**
 * What a command does not take: positionals past `maxPositionals` and flags outside `flags`. A
 * typo such as `--tenat` must be an error, not a command run without it (a fleet-wide `conns`).
 */
export function unexpectedArgs(args: ParsedArgs, maxPositionals: number, flags: readonly string[]): string | undefined {
  const extra = args.positionals.slice(maxPositionals);
  if (extra.length > 0) return `unexpected argument ${JSON.stringify(extra[0])}`;
  for (const name of args.flags.keys()) if (!flags.includes(name)) return `unknown option --${name}`;
  return undefined;
}
