import { helpText } from "../config/config.js";

export function usage(): string {
  return `sms-ws: real-time WebSocket delivery of SMS events from NATS

Usage:
  sms-ws serve                      run a gateway node (NATS_URL required in production)
  sms-ws dev [--simulate]           run a node; with no NATS_URL, start a local nats-server too,
                                    create an app key and an admin key and print them;
                                    --simulate publishes a realistic trickle of events
  sms-ws publish --json '<event>' [--direct]
                                    validate, fill in eventId/timestamp, publish (durable path by
                                    default: JetStream in.sms.*; --direct: core NATS sms.*)
  sms-ws provision                  with the admin NATS user: create or update the stream SMS_EVENTS
                                    and the KV buckets (idempotent; run before the gateways start)
  sms-ws provision --print-nats-config [--direct-producer]
                                    print the nats-server users and permissions (docs/security.md)
  sms-ws keys create --role app --tenant T --app A [--label L] [--json]
  sms-ws keys create --role admin [--label L] [--json]
  sms-ws keys revoke KEY_OR_HASH_PREFIX
  sms-ws keys list [--json]
  sms-ws --help

${helpText()}`;
}
