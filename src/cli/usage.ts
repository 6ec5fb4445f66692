import { helpText } from "../config/config.js";

export function usage(): string {
  return `sms-ws: real-time WebSocket delivery of SMS events from NATS

Usage:
  sms-ws serve                      run a gateway node (NATS_URL required in production)
  sms-ws dev [--simulate]           run a node; with no NATS_URL, start a local nats-server too,
                                    create an app key, an admin key and a token and print them;
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
  sms-ws signers create --tenant T [--app A] [--label L] [--out FILE] [--json]
                                    new token signer (Ed25519); prints its private key once
                                    (PEM), or writes it to FILE (mode 0600)
  sms-ws signers list [--json]
  sms-ws signers revoke KID         closes every socket using its tokens (4401)
  sms-ws token --signer-key FILE --kid KID --tenant T --app A --ttl 15m
               [--sub S] [--filter JSON] [--jti J] [--json]
                                    mint a connection token (ttl: 90s, 15m, 2h, 1d)
  sms-ws tokens revoke JTI [--reason TEXT]
                                    closes the socket using that token (4401); TEXT (at most 200
                                    characters) is kept in the revocation entry
  sms-ws conns [--tenant T] [--app A] [--key HASH_PREFIX] [--signer KID] [--sub S] [--node N]
               [--json] [--timeout MS] [--fleet-public-key KEY]
                                    one row per connection across the fleet (every node answers;
                                    nodes that do not are named, exit code 3); with the fleet
                                    public key (or FLEET_PUBLIC_KEY) only signed answers count,
                                    others are ignored and reported (exit code 4)
  sms-ws kick SELECTORS [--json]    close the selected connections with 4410 (the SDK does not
                                    reconnect; keys stay valid); refuses an empty selector
  sms-ws top [--once] [--json] [--interval MS]
                                    tenants by connections and deliveries per second, summed
                                    over the fleet, refreshing (--once: one sample, for scripts)
  sms-ws fleet-key [--json]         new fleet key pair: FLEET_SIGNING_KEY (secret, the nodes)
                                    and FLEET_PUBLIC_KEY (the fleet CLI)
  sms-ws --help

${helpText()}`;
}
