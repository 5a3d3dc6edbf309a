/** High-resolution wall clock (epoch ms with µs fraction), comparable across processes on one host. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}
