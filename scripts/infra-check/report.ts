/** The check's output: one line per finding, counted. */
export class Report {
  failures = 0;
  warnings = 0;

  ok(message: string): void {
    process.stdout.write(`ok    ${message}\n`);
  }

  fail(message: string): void {
    process.stdout.write(`FAIL  ${message}\n`);
    this.failures++;
  }

  warn(message: string): void {
    process.stdout.write(`warn  ${message}\n`);
    this.warnings++;
  }
}

export const sorted = (values: Iterable<string>): string[] => [...values].sort();
export const list = (values: Iterable<string>): string => sorted(values).join(', ');
