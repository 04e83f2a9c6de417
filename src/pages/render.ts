// Server-rendered pages from views/. Eta escapes every `<%= %>` by default; raw output
// (`<%~ %>`) is only used for other templates (layout bodies).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';

// src/pages/ and dist/pages/ are both two levels below the project root.
export const VIEWS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views');

const eta = new Eta({ views: VIEWS_DIR, autoEscape: true, cache: true });

export function renderPage(view: string, data: Record<string, unknown>): string {
  return eta.render(`./${view}`, data);
}
