/** Durations on the command line: `90s`, `15m`, `2h`, `1d`, or plain seconds. */
const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Whole seconds, or undefined when `text` is not a positive duration. */
export function parseDurationSeconds(text: string): number | undefined {
  const match = /^(\d{1,9})([smhd]?)$/.exec(text.trim());
  if (match === null) return undefined;
  const seconds = Number(match[1]) * (UNIT_SECONDS[match[2] || "s"] as number);
  return seconds > 0 ? seconds : undefined;
}
