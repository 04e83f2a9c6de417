// Audit values come partly from strangers (a client_id, an email, a reason quoting either).
// PostgreSQL refuses NUL in text and in jsonb (and a lone surrogate in jsonb), and control
// characters would reach an operator's terminal through `audit tail`. Escaping them keeps what
// was sent readable without letting it refuse a row or drive a terminal.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** C0, DEL and C1 controls become literal `\uXXXX` text; lone surrogates become U+FFFD. */
function safeText(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd').replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** safeText on every string inside a JSON-like value, keys included. */
export function safeValue<T>(value: T): T {
  if (typeof value === 'string') return safeText(value) as T;
  if (Array.isArray(value)) return value.map(safeValue) as T;
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [safeText(k), safeValue(v)])) as T;
  }
  return value;
}
