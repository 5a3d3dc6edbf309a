/**
 * `npm run call -- --to +E164 --from +E164` (or `--business <id>`): places an
 * outbound call through the webhook service and prints its CallSid (then
 * `npm run calls -- show CA…` shows how it went). See scripts/lib/call-cli.ts.
 */
import { CALL_CLI_USAGE, CallUsageError, parseCallArgs, placeCallFromCli } from './lib/call-cli.js';

try {
  const request = parseCallArgs(process.argv.slice(2), process.env);
  const callSid = await placeCallFromCli(request);
  process.stdout.write(`${callSid}\n`);
  process.stderr.write(
    `placed: ${request.body.from ?? `business ${request.body.businessId}`} -> ${request.body.to}; npm run calls -- show ${callSid}\n`,
  );
} catch (err) {
  process.stderr.write(`npm run call: ${(err as Error).message}\n`);
  if (err instanceof CallUsageError) process.stderr.write(`${CALL_CLI_USAGE}\n`);
  process.exitCode = err instanceof CallUsageError ? 2 : 1;
}
