/**
 * Migrations as an in-code knex migration source: an ordered list of imported
 * modules rather than a directory glob, so the same code runs from TypeScript
 * source under tsx and from compiled dist, and bundlers cannot lose a file.
 */
import type { Knex } from 'knex';
import * as businesses from './0001_businesses.js';
import * as calls from './0002_calls.js';
import * as appointments from './0003_appointments.js';
import * as callsAwaitingStream from './0004_calls_awaiting_stream.js';
import * as outboundToolsTranscripts from './0005_outbound_tools_transcripts.js';
import * as oncallCallLookups from './0006_oncall_call_lookups.js';
import * as callsPlaced from './0007_calls_placed.js';
import * as callsPlacedChecked from './0008_calls_placed_checked.js';
import * as outboundRequests from './0009_outbound_requests.js';

interface NamedMigration {
  /** Stored in knex_migrations: never rename a shipped migration. */
  name: string;
  migration: Knex.Migration;
}

const MIGRATIONS: readonly NamedMigration[] = [
  { name: '0001_businesses', migration: businesses },
  { name: '0002_calls', migration: calls },
  { name: '0003_appointments', migration: appointments },
  { name: '0004_calls_awaiting_stream', migration: callsAwaitingStream },
  { name: '0005_outbound_tools_transcripts', migration: outboundToolsTranscripts },
  { name: '0006_oncall_call_lookups', migration: oncallCallLookups },
  { name: '0007_calls_placed', migration: callsPlaced },
  { name: '0008_calls_placed_checked', migration: callsPlacedChecked },
  { name: '0009_outbound_requests', migration: outboundRequests },
];

export const migrationSource: Knex.MigrationSource<NamedMigration> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: (entry) => entry.name,
  getMigration: async (entry) => entry.migration,
};

/** The names of every migration this build knows, in order. */
export const MIGRATION_NAMES: readonly string[] = MIGRATIONS.map((entry) => entry.name);
