// A webhook outbox row -> the request to send: the endpoint's current secrets (the previous one
// too while a rotation overlap runs), the JSON body or, for an endpoint that asked for it, a
// Security Event Token (RFC 8417) signed with Gatehouse's current key, and Standard Webhooks
// signature headers over whichever body is sent.
import type { Db } from '../db/client.js';
import type { KeyEncryptionKey } from '../keys/encryption.js';
import type { JwtSigner } from '../keys/sign-jwt.js';
import { openWebhookSecret, signatureHeaders } from './signing.js';
import type { DeliveryRow, Renderer } from './worker.js';

/** RFC 8417 §2.2: each event is named by a URI; Gatehouse's are this prefix and the audit type. */
const SECURITY_EVENT_URI_PREFIX = 'urn:gatehouse:security-event:';

export function webhookRenderer(deps: { prisma: Db; kek: KeyEncryptionKey; issuer: string; sign: JwtSigner }): Renderer {
  return async (row: DeliveryRow) => {
    if (!row.endpointId) return null;
    const endpoint = await deps.prisma.webhookEndpoint.findUnique({ where: { id: row.endpointId } });
    if (!endpoint) return null;
    const now = new Date();
    const secrets = [openWebhookSecret(deps.kek, endpoint.id, endpoint.secretEnc)];
    if (endpoint.previousSecretEnc && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > now) {
      secrets.push(openWebhookSecret(deps.kek, endpoint.id, endpoint.previousSecretEnc));
    }
    let body = row.payload;
    let contentType = 'application/json';
    if (endpoint.securityEventToken) {
      const message = JSON.parse(row.payload) as { data?: Record<string, unknown> };
      // RFC 8417 §2.2: iss, iat, jti (the webhook-id, so a redelivery is recognisable), aud, events.
      body = await deps.sign(
        { iss: deps.issuer, jti: row.id, aud: endpoint.url, events: { [`${SECURITY_EVENT_URI_PREFIX}${row.eventType}`]: message.data ?? {} } },
        'secevent+jwt',
      );
      contentType = 'application/secevent+jwt';
    }
    return { url: endpoint.url, headers: { 'content-type': contentType, ...signatureHeaders(secrets, row.id, now, body) }, body };
  };
}
