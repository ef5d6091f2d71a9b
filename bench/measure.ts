/** Shared by the benchmarks that report time and peak memory of one call. */

/** Runs `fn`, sampling RSS every 10 ms; returns the peak and the wall time. */
export async function measure(
  fn: () => Promise<unknown>,
): Promise<{ peak: number; seconds: number }> {
  global.gc?.();
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 10);
  const t0 = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, process.memoryUsage.rss());
  return { peak, seconds: (performance.now() - t0) / 1000 };
}
