// `audit tail`: the newest security events, oldest first, as a log reads.
import type { Command } from 'commander';
import { durationArgument, leaf, positiveIntegerArgument } from '../command.js';
import { display, table, type Io } from '../output.js';

type TailFlags = { since?: number; type?: string; limit?: number };

export function registerAuditCommands(program: Command, io: Io): void {
  const audit = program.command('audit').description('read the audit log');
  const tail = leaf<TailFlags>(audit, 'tail', 'print the newest audit events', io);
  tail.command
    .option('--since <duration>', 'only events newer than this (for example 1h, 7d)', durationArgument)
    .option('--type <type>', 'only events of this type (for example login.failure, refresh.reuse_detected)')
    .option('--limit <n>', 'at most this many events (the newest)', positiveIntegerArgument, 100);
  tail.handle(async (ctx, flags) => {
    const rows = await ctx.prisma.auditEvent.findMany({
      where: {
        ...(flags.since !== undefined ? { at: { gte: new Date(Date.now() - flags.since * 1000) } } : {}),
        ...(flags.type ? { type: flags.type } : {}),
      },
      orderBy: [{ at: 'desc' }, { id: 'desc' }],
      take: flags.limit ?? 100,
    });
    const events = rows.reverse().map((e) => ({
      id: e.id,
      at: e.at.toISOString(),
      type: e.type,
      outcome: e.outcome,
      subject: e.subject,
      client_id: e.clientId,
      ip: e.ip,
      details: (e.details ?? null) as Record<string, unknown> | null,
    }));
    return {
      json: events,
      text: events.length
        ? table(events, [
            { header: 'AT', value: (e) => e.at },
            { header: 'TYPE', value: (e) => e.type },
            { header: 'OUTCOME', value: (e) => e.outcome },
            { header: 'SUBJECT', value: (e) => e.subject ?? '-' },
            { header: 'CLIENT', value: (e) => e.client_id ?? '-' },
            { header: 'IP', value: (e) => e.ip ?? '-' },
            { header: 'DETAILS', value: (e) => (e.details ? display(e.details) : '-') },
          ])
        : 'no audit events match',
    };
  });
}
