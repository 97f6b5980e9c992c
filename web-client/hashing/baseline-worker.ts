// The baselines of the browser hashing benchmark, in a worker of their own: reading the
// picked file as the hashing workers do and doing nothing else, and hash-wasm SHA-256 over
// the whole file in one pass, without FastCDC. Not used by the app.

import { expose } from 'comlink';
import { createSHA256 } from 'hash-wasm';
import { readPieces } from './blob-pieces.ts';

export const baselineWorkerApi = {
  /** Milliseconds to read `file` in slices; the checksum proves every byte was touched. */
  async read(file: Blob): Promise<{ milliseconds: number; checksum: number }> {
    const started = performance.now();
    let checksum = 0;
    for await (const piece of readPieces(file)) checksum = (checksum + piece[piece.length - 1]!) | 0;
    return { milliseconds: performance.now() - started, checksum };
  },
  /** Milliseconds to read `file` and hash it whole with hash-wasm SHA-256, and the digest. */
  async sha256(file: Blob): Promise<{ milliseconds: number; digest: string }> {
    const sha = await createSHA256();
    const started = performance.now();
    sha.init();
    for await (const piece of readPieces(file)) sha.update(piece);
    const digest = sha.digest('hex');
    return { milliseconds: performance.now() - started, digest };
  },
};

export type BaselineWorkerApi = typeof baselineWorkerApi;

expose(baselineWorkerApi);
