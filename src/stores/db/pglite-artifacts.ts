import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { PGliteOptions } from '@electric-sql/pglite';

type WasmModule = NonNullable<PGliteOptions['pgliteWasmModule']>;

export interface PgliteArtifacts {
  readonly pgliteWasmModule: WasmModule;
  readonly fsBundle: Blob;
}

// @types/node 20 does not declare the WebAssembly global (the DOM lib would, and is not ours).
const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } }).WebAssembly;

let prefetched: Promise<PgliteArtifacts> | undefined;

/**
 * Starts reading PGlite's 9 MB WebAssembly module and compiling it, and reading its 6 MB file-system
 * bundle. `gatehouse serve` calls this before it loads the server's modules: V8 compiles WebAssembly
 * on background threads, so the compile overlaps the module loading instead of following it (PGlite
 * itself starts both only when `new PGlite()` runs, after everything has loaded). Restart to
 * /readyz: 1,057 → 883 ms (bench/embedded-footprint.ts).
 */
export function prefetchPgliteArtifacts(): void {
  prefetched ??= (async () => {
    const [code, data] = await Promise.all([read('@electric-sql/pglite/pglite.wasm'), read('@electric-sql/pglite/pglite.data')]);
    return { pgliteWasmModule: await wasm.compile(code), fsBundle: new Blob([data]) };
  })();
}

/**
 * What {@link prefetchPgliteArtifacts} prepared, handed over once (nothing keeps it afterwards, so
 * it costs no memory beyond what PGlite holds anyway); `{}` when nothing was prefetched or the
 * prefetch failed, and PGlite loads them itself as usual.
 */
export async function takePrefetchedPgliteArtifacts(): Promise<Partial<PgliteArtifacts>> {
  const taken = prefetched;
  prefetched = undefined;
  return taken === undefined ? {} : taken.catch(() => ({}));
}

const read = (specifier: string) => readFile(fileURLToPath(import.meta.resolve(specifier)));
