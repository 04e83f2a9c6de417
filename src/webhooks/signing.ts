// Standard Webhooks signatures (webhook-id, webhook-timestamp, webhook-signature: HMAC-SHA256 over
// `id.timestamp.body`), made with the `standardwebhooks` package so any Standard Webhooks library
// verifies them. The signature covers the id and the timestamp: a captured delivery replayed
// later fails the receiver's timestamp tolerance, and its id tells a receiver it saw it before.
// Secrets are 256 random bits (`whsec_` + base64), sealed at rest under the key-encryption key
// with the endpoint's id bound as associated data, and shown once.
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { decryptSecret, encryptSecret, type KeyEncryptionKey } from '../keys/encryption.js';

export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

const associatedData = (endpointId: string) => `webhook-endpoint:${endpointId}`;

export function sealWebhookSecret(kek: KeyEncryptionKey, endpointId: string, secret: string): string {
  return encryptSecret(kek, secret, associatedData(endpointId));
}

export function openWebhookSecret(kek: KeyEncryptionKey, endpointId: string, sealed: string): string {
  return decryptSecret(kek, sealed, associatedData(endpointId));
}

/**
 * The three headers for one attempt. During a rotation overlap `secrets` holds the new and the
 * previous secret; the header then carries both signatures (space-separated, as the
 * specification allows), so receivers still holding the old secret keep verifying.
 */
export function signatureHeaders(secrets: readonly string[], id: string, at: Date, body: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': secrets.map((secret) => new Webhook(secret).sign(id, at, body)).join(' '),
  };
}
