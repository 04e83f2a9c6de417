// Mail bodies from views/mail/: `<name>.txt.eta` (plain text, nothing escaped: it is not HTML)
// and `<name>.html.eta` (simple HTML, every value escaped). Both get the same data.
import path from 'node:path';
import { Eta } from 'eta';
import { VIEWS_DIR } from '../pages/render.js';

const MAIL_VIEWS = path.join(VIEWS_DIR, 'mail');
const html = new Eta({ views: MAIL_VIEWS, autoEscape: true, cache: true });
const text = new Eta({ views: MAIL_VIEWS, autoEscape: false, cache: true });

export type RenderedMail = { text: string; html: string };

export function renderMail(template: string, data: Record<string, unknown>): RenderedMail {
  return { text: text.render(`./${template}.txt.eta`, data), html: html.render(`./${template}.html.eta`, data) };
}
