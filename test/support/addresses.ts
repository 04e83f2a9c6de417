// Client addresses for tests that count per address: documentation ranges (RFC 5737), one
// range per test file so that files running at once never share a budget.

/** A function giving a new address of `prefix` (e.g. '203.0.113') at each call. */
export function addressesIn(prefix: string): () => string {
  let counter = 0;
  return () => {
    counter += 1;
    return `${prefix}.${counter}`;
  };
}

/** The header a trusted proxy adds (the tests run with TRUST_PROXY). */
export const from = (address: string) => ({ 'x-forwarded-for': address });
