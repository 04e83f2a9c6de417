// A real SMTP server for the tests of email delivery (smtp-server), with authentication as an
// operator's SMTP_URL would have it; every message is parsed with mailparser and kept. Tests wait
// for the message to an address, and may make the server refuse the next deliveries (a 451,
// a temporary failure) to watch retries.
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export type ReceivedMail = { to: string[]; from: string; subject: string; text: string; html: string; parsed: ParsedMail; raw: string };

export type TestSmtp = {
  /** SMTP_URL for Gatehouse, with the user name and password this server accepts. */
  url: string;
  password: string;
  received: ReceivedMail[];
  /** The next message to `address` not yet taken by an earlier call. */
  nextTo(address: string, timeoutMs?: number): Promise<ReceivedMail>;
  /** How many messages to `address` arrived so far. */
  countTo(address: string): number;
  /** Refuses the next `n` deliveries with 451 (temporary failure). */
  refuseNext(n: number): void;
  refusedCount(): number;
  close(): Promise<void>;
};

export async function startSmtp(): Promise<TestSmtp> {
  const password = `smtp-pass-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const received: ReceivedMail[] = [];
  const taken = new Set<ReceivedMail>();
  let toRefuse = 0;
  let refused = 0;
  const server = new SMTPServer({
    authOptional: false,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === 'gatehouse' && auth.password === password) callback(null, { user: 'gatehouse' });
      else callback(new Error('Invalid username or password'));
    },
    onRcptTo(_address, _session, callback) {
      if (toRefuse > 0) {
        toRefuse -= 1;
        refused += 1;
        const error = new Error('Try again later') as Error & { responseCode: number };
        error.responseCode = 451;
        return callback(error);
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw)
          .then((parsed) => {
            received.push({
              to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
              from: typeof session.envelope.mailFrom === 'object' && session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              html: typeof parsed.html === 'string' ? parsed.html : '',
              parsed,
              raw,
            });
            callback();
          })
          .catch((error: unknown) => callback(error as Error));
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;

  const unread = (address: string) => received.find((m) => !taken.has(m) && m.to.includes(address.toLowerCase()));
  return {
    url: `smtp://gatehouse:${encodeURIComponent(password)}@127.0.0.1:${port}`,
    password,
    received,
    async nextTo(address, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const mail = unread(address);
        if (mail) {
          taken.add(mail);
          return mail;
        }
        if (Date.now() > deadline) throw new Error(`no message to ${address} within ${timeoutMs} ms (received: ${received.map((m) => m.to.join(',')).join('; ')})`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    countTo: (address) => received.filter((m) => m.to.includes(address.toLowerCase())).length,
    refuseNext(n) {
      toRefuse = n;
    },
    refusedCount: () => refused,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The one link of a message that leads to `path` on the issuer (in the text part; the HTML must have it too). */
export function linkIn(mail: ReceivedMail, path: string): URL {
  const links = [...mail.text.matchAll(/https?:\/\/\S+/g)].map((m) => new URL(m[0])).filter((u) => u.pathname === path);
  if (links.length !== 1) throw new Error(`expected one link to ${path} in:\n${mail.text}`);
  const link = links[0]!;
  if (!mail.html.includes(link.href.replace(/&/g, '&amp;'))) throw new Error(`the HTML part lacks the link ${link.href}:\n${mail.html}`);
  return link;
}
