/** pino JSON logs. Plaintext API keys never reach a log line (hash prefixes only). */
import { pino, type Logger } from "pino";

export function createLogger(level: string, name = "sms-ws-gateway"): Logger {
  return pino({ name, level, base: { pid: process.pid }, redact: ["apiKey", "*.apiKey"] });
}
