/**
 * Latency histograms (HdrHistogram): values recorded in microseconds, read back
 * in milliseconds. Percentiles of an empty histogram are undefined, not 0.
 */
import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

const US_PER_MS = 1000;
const SIGNIFICANT_DIGITS = 3;
/** One minute; the histogram grows past it rather than dropping a value. */
const INITIAL_HIGHEST_US = 60_000_000;

export interface Percentiles {
  count: number;
  /** Keyed by percentile, e.g. `{ 50: 1.2, 99: 3.4 }`, in ms. */
  ms: Record<number, number | undefined>;
  maxMs: number | undefined;
}

export class LatencyHistogram {
  private readonly histogram: Histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: INITIAL_HIGHEST_US,
    numberOfSignificantValueDigits: SIGNIFICANT_DIGITS,
    autoResize: true,
  });

  recordMs(ms: number): void {
    this.histogram.recordValue(Math.max(1, Math.round(ms * US_PER_MS)));
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  percentiles(points: readonly number[]): Percentiles {
    const empty = this.count === 0;
    const ms: Record<number, number | undefined> = {};
    for (const p of points) ms[p] = empty ? undefined : this.histogram.getValueAtPercentile(p) / US_PER_MS;
    return { count: this.count, ms, maxMs: empty ? undefined : this.histogram.maxValue / US_PER_MS };
  }

  /** The whole distribution, compressed, for the JSON result (decode with hdr.decodeFromCompressedBase64). */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.histogram);
  }
}
