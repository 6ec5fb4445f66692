import { GatewayError } from "../errors.js";

/** Bad input to signer or token administration (the `sms-ws signers` / `tokens` CLI). */
export class TokenAdminError extends GatewayError {
  constructor(message: string) {
    super("TOKEN_ADMIN", message);
  }
}
