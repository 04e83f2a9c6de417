// Email delivery through nodemailer. With SMTP_URL, messages go to that server (smtp:// with
// STARTTLS when offered, smtps:// for implicit TLS; credentials in the URL). Without it (never
// in production, src/config.ts), each message is written as an .eml file under DATA_DIR/mail
// and its links are logged at info level, so a person on a laptop can still follow them.
//
// send() never waits for the mail server: the message is queued and the request goes on. A
// failed attempt is retried after growing delays; a message that still fails is logged and
// audited (mail.failed) and dropped, so a mail outage never becomes a 500 or a hung page.
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { AuditWriter } from '../audit/audit.js';
import type { GatehouseConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { renderMail } from './templates.js';

type MailMessage = {
  to: string;
  subject: string;
  /** views/mail/<template>.txt.eta and .html.eta. */
  template: string;
  data: Record<string, unknown>;
  /** Links in the message: logged in the embedded (.eml) mode only. */
  links: string[];
  /** What the message is for, in audit events and logs (never its content). */
  purpose: string;
  /** The account concerned, for the audit event when delivery fails. */
  userId?: string | null;
};

export type Mailer = {
  /**
   * Queues the message and returns at once; the promise (which request handlers do not wait
   * for) says whether it was delivered, after any retries.
   */
  send(message: MailMessage): Promise<boolean>;
  /** Resolves when every queued message was delivered or given up (shutdown, tests). */
  drain(): Promise<void>;
  close(): void;
};

/** Waits before the 2nd, 3rd and 4th attempts. */
const RETRY_DELAYS_MS = [1000, 4000, 15_000] as const;

type Deliver = (message: MailMessage, rendered: { text: string; html: string }) => Promise<void>;

function smtpDelivery(smtpUrl: string, from: string): { deliver: Deliver; close(): void } {
  const transport = nodemailer.createTransport({
    url: smtpUrl,
    // Bounded, so one slow server cannot pile up attempts (each is off the request path anyway).
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
  return {
    deliver: async (message, rendered) => {
      await transport.sendMail({ from, to: message.to, subject: message.subject, text: rendered.text, html: rendered.html });
    },
    close: () => transport.close(),
  };
}

function fileDelivery(dataDir: string, from: string, logger: Logger): { deliver: Deliver; close(): void } {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  const dir = path.join(dataDir, 'mail');
  return {
    deliver: async (message, rendered) => {
      const info = await transport.sendMail({ from, to: message.to, subject: message.subject, text: rendered.text, html: rendered.html });
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.eml`);
      await writeFile(file, info.message as Buffer, { mode: 0o600 });
      // Development only (production needs SMTP_URL): the person at the terminal is the reader.
      logger.info({ file, purpose: message.purpose, links: message.links }, 'mail written to a file (no SMTP_URL)');
    },
    close: () => undefined,
  };
}

/** A reason to log: the error's message and code, never the message being sent. */
function describe(error: unknown): { message: string; code?: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { message: error.message.slice(0, 300), ...(typeof code === 'string' ? { code } : {}) };
  }
  return { message: 'unknown error' };
}

export function createMailer(
  config: Pick<GatehouseConfig, 'mail' | 'dataDir'>,
  logger: Logger,
  audit: AuditWriter,
  retryDelaysMs: readonly number[] = RETRY_DELAYS_MS,
): Mailer {
  const delivery = config.mail.smtpUrl ? smtpDelivery(config.mail.smtpUrl, config.mail.from) : fileDelivery(config.dataDir, config.mail.from, logger);
  const pending = new Set<Promise<boolean>>();
  const timers = new Map<NodeJS.Timeout, () => void>();
  let closed = false;

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timer.unref();
      timers.set(timer, resolve);
    });

  const attemptAll = async (message: MailMessage): Promise<boolean> => {
    let rendered;
    try {
      rendered = renderMail(message.template, message.data);
    } catch (error) {
      logger.error({ err: describe(error), purpose: message.purpose }, 'mail could not be rendered');
      await audit({ type: 'mail.failed', outcome: 'failure', subject: message.userId ?? null, details: { purpose: message.purpose, attempts: 0, reason: 'template' } });
      return false;
    }
    let lastError: unknown;
    for (let attempt = 0; attempt <= retryDelaysMs.length; attempt++) {
      if (attempt > 0) await wait(retryDelaysMs[attempt - 1]!);
      if (closed) break;
      try {
        await delivery.deliver(message, rendered);
        logger.debug({ purpose: message.purpose, attempts: attempt + 1 }, 'mail delivered');
        return true;
      } catch (error) {
        lastError = error;
        logger.warn({ err: describe(error), purpose: message.purpose, attempt: attempt + 1 }, 'mail delivery failed');
      }
    }
    logger.error({ err: describe(lastError), purpose: message.purpose }, 'mail given up');
    await audit({
      type: 'mail.failed',
      outcome: 'failure',
      subject: message.userId ?? null,
      details: { purpose: message.purpose, attempts: retryDelaysMs.length + 1, reason: describe(lastError).message },
    });
    return false;
  };

  return {
    send(message) {
      if (closed) {
        logger.warn({ purpose: message.purpose }, 'mail not sent: shutting down');
        return Promise.resolve(false);
      }
      const work = attemptAll(message).catch((error: unknown) => {
        logger.error({ err: describe(error), purpose: message.purpose }, 'mail failed');
        return false;
      });
      pending.add(work);
      void work.finally(() => pending.delete(work));
      return work;
    },
    async drain() {
      while (pending.size) await Promise.all([...pending]);
    },
    close() {
      closed = true;
      // Waiting retries end now (and give up) rather than hold the shutdown.
      for (const [timer, resolve] of timers) {
        clearTimeout(timer);
        resolve();
      }
      timers.clear();
      delivery.close();
    },
  };
}
