// tsconfig's lib (ES2023) carries no WebAssembly typings (they live in lib.dom): the part the
// schema engine's loader and error mapping use, typed once.
type WebAssemblyApi = {
  instantiate(bytes: Uint8Array, imports: Record<string, object>): Promise<{ instance: { exports: Record<string, unknown> } }>;
  RuntimeError: new (message?: string) => Error;
};

export const WebAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
