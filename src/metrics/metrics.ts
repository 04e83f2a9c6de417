// Prometheus metrics (prom-client), one registry per running Gatehouse. Security counters are
// fed by the audit writer (every security event passes through it) and by the rate-limit store;
// HTTP counters by a middleware (http-metrics.ts). Label values come from bounded sets only:
// route names, methods, status codes, grant types, failure reasons, policy names.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuditEvent } from '../audit/audit.js';

type HttpObservation = { method: string; route: string; status: number; seconds: number };

export type Metrics = {
  registry: Registry;
  observeRequest(observation: HttpObservation): void;
  /** Counts what a security event means for the counters (tokens issued, login failures, ...). */
  observeAudit(event: AuditEvent): void;
  rateLimitRefused(policy: string): void;
  /** Reports whether rate-limit counts are shared through Redis right now. */
  watchRateLimitStore(shared: () => boolean): void;
  /** One outgoing delivery attempt (webhook or logout token) and its outcome. */
  deliveryAttempted(kind: string, outcome: string): void;
  /** Reports the outbox: messages waiting and the age of the oldest (read at each scrape). */
  watchOutbox(read: () => Promise<{ pending: number; oldestPendingSeconds: number }>): void;
};

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const requests = new Counter({
    name: 'gatehouse_http_requests_total',
    help: 'HTTP requests answered, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers,
  });
  const latency = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'Time to answer HTTP requests, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const tokensIssued = new Counter({
    name: 'gatehouse_tokens_issued_total',
    help: 'Successful token endpoint responses, by grant type',
    labelNames: ['grant_type'] as const,
    registers,
  });
  const loginFailures = new Counter({
    name: 'gatehouse_login_failures_total',
    help: 'Failed sign-ins, by reason',
    labelNames: ['reason'] as const,
    registers,
  });
  const mfaFailures = new Counter({
    name: 'gatehouse_mfa_failures_total',
    help: 'Failed second-factor attempts (TOTP, recovery code, passkey), by factor and reason',
    labelNames: ['factor', 'reason'] as const,
    registers,
  });
  const lockouts = new Counter({ name: 'gatehouse_account_lockouts_total', help: 'Accounts locked after repeated failed sign-ins', registers });
  const rateLimited = new Counter({
    name: 'gatehouse_rate_limit_rejections_total',
    help: 'Requests refused by a rate limit, by policy',
    labelNames: ['policy'] as const,
    registers,
  });
  const refreshReuse = new Counter({
    name: 'gatehouse_refresh_token_reuse_total',
    help: 'Rotated refresh tokens presented again (the grant is revoked each time)',
    registers,
  });

  const deliveries = new Counter({
    name: 'gatehouse_outbox_deliveries_total',
    help: 'Outgoing delivery attempts, by kind (webhook, backchannel-logout) and outcome (delivered, retry, failed, refused)',
    labelNames: ['kind', 'outcome'] as const,
    registers,
  });

  return {
    registry,
    observeRequest({ method, route, status, seconds }) {
      const labels = { method, route, status: String(status) };
      requests.inc(labels);
      latency.observe(labels, seconds);
    },
    observeAudit(event) {
      switch (event.type) {
        case 'token.issued':
          tokensIssued.inc({ grant_type: String(event.details?.grant_type ?? 'unknown') });
          break;
        case 'login.failure':
          loginFailures.inc({ reason: String(event.details?.reason ?? 'unknown') });
          break;
        case 'mfa.failure':
          mfaFailures.inc({ factor: String(event.details?.factor ?? 'unknown'), reason: String(event.details?.reason ?? 'unknown') });
          break;
        case 'account.locked':
          lockouts.inc();
          break;
        case 'refresh.reuse_detected':
          refreshReuse.inc();
          break;
        default:
      }
    },
    rateLimitRefused(policy) {
      rateLimited.inc({ policy });
    },
    deliveryAttempted(kind, outcome) {
      deliveries.inc({ kind, outcome });
    },
    watchOutbox(read) {
      // One read per scrape serves both gauges. While the database cannot be read, the last
      // figures stand: /metrics keeps answering during an outage.
      let known = { pending: 0, oldestPendingSeconds: 0 };
      let last: Promise<{ pending: number; oldestPendingSeconds: number }> | undefined;
      const current = () =>
        (last ??= read()
          .then((figures) => (known = figures))
          .catch(() => known)
          .finally(() => setImmediate(() => (last = undefined))));
      new Gauge({
        name: 'gatehouse_outbox_pending',
        help: 'Messages (webhooks, logout tokens) waiting in the outbox to be delivered',
        registers,
        async collect() {
          this.set((await current()).pending);
        },
      });
      new Gauge({
        name: 'gatehouse_outbox_oldest_pending_seconds',
        help: 'Age of the oldest message waiting in the outbox (0 when none waits)',
        registers,
        async collect() {
          this.set((await current()).oldestPendingSeconds);
        },
      });
    },
    watchRateLimitStore(shared) {
      new Gauge({
        name: 'gatehouse_rate_limit_store_shared',
        help: '1 while rate-limit counts are shared through Redis, 0 while counted in this instance alone',
        registers,
        collect() {
          this.set(shared() ? 1 : 0);
        },
      });
    },
  };
}
