/**
 * Loaded into the switchboard's process by the soak (node --expose-gc --import this file), never
 * by the product: every BENCH_MEMORY_EVERY_MS it runs a full garbage collection (when --expose-gc
 * allows it) and appends process.memoryUsage() as a JSON line to BENCH_MEMORY_FILE. The heap
 * after a full collection is what the program still holds, so its trend shows a leak that RSS
 * (which follows the allocator) and heapUsed between collections (which follows garbage) hide.
 */
import { appendFileSync } from 'node:fs';

const file = process.env.BENCH_MEMORY_FILE;
const every = Number(process.env.BENCH_MEMORY_EVERY_MS ?? 30_000);
const gc = (globalThis as { gc?: () => void }).gc;

if (file && every > 0) {
  const sample = (): void => {
    gc?.();
    const m = process.memoryUsage();
    appendFileSync(file, `${JSON.stringify({ at: Date.now(), heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss, external: m.external, afterGc: gc !== undefined })}\n`);
  };
  // unref: the probe never keeps the switchboard alive at shutdown.
  setInterval(sample, every).unref();
}
