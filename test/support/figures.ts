/**
 * Figures a test measured on the way (e.g. ms to fallback audio), printed with
 * the test output so closing notes quote measured numbers. Never asserted tightly.
 */
export function reportFigure(name: string, value: number, unit = 'ms'): void {
  console.log(`      figure: ${name} = ${Math.round(value)} ${unit}`);
}
