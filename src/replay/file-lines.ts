import { createReadStream, statSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';

/** Lines of a text file, streamed, telling `onProgress` how many of its bytes have been read so far. */
export function readLinesWithProgress(
  path: string,
  onProgress?: (bytes: number, total: number) => void,
): Interface {
  const total = statSync(path).size;
  const input = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 16 });
  if (onProgress) {
    let bytes = 0;
    input.on('data', (chunk) => {
      bytes += Buffer.byteLength(chunk as string);
      onProgress(bytes, total);
    });
  }
  return createInterface({ input, crlfDelay: Infinity });
}
