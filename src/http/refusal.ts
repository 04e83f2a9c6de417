// Answering a request refused in front of its handler (rate limit, body limit) in the format
// of the endpoint it was meant for: OAuth error JSON (RFC 6749 §5.2) for software, one of our
// pages for a person's browser. Never cached.
import type { Context } from 'koa';
import { renderPage } from '../pages/render.js';
import type { ResponseFormat } from './endpoints.js';

export type Refusal = {
  status: number;
  /** OAuth error code. */
  error: string;
  description: string;
  page: { title: string; message: string };
};

export function sendRefusal(ctx: Context, format: ResponseFormat, refusal: Refusal): void {
  ctx.status = refusal.status;
  ctx.set('Cache-Control', 'no-store');
  if (format === 'page') {
    ctx.type = 'html';
    ctx.body = renderPage('error', { title: refusal.page.title, message: refusal.page.message, code: refusal.error });
  } else {
    ctx.type = 'json';
    ctx.body = { error: refusal.error, error_description: refusal.description };
  }
}

function waitText(seconds: number): string {
  if (seconds < 120) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minutes`;
}

/**
 * 429 (RFC 6585 §4). The OAuth code is temporarily_unavailable (RFC 6749 §4.1.2.1: "unable to
 * handle the request due to a temporary overloading"), the nearest registered one.
 */
export function tooManyRequests(resetSeconds: number): Refusal {
  return {
    status: 429,
    error: 'temporarily_unavailable',
    description: `too many requests; retry after ${resetSeconds} seconds`,
    page: {
      title: 'Too many requests',
      message: `Too many requests came from your network. Wait ${waitText(resetSeconds)} and try again.`,
    },
  };
}
