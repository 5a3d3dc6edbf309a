export { createDatabase, closeDatabase } from './database.js';
export type { DatabaseOptions } from './database.js';
export {
  DEFAULT_POOL_MIN,
  DEFAULT_POOL_MAX,
  DEFAULT_ACQUIRE_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
} from './database.js';
export { DEFAULT_DATABASE_URL, isPostgresUrl, redactDatabaseUrl, withDatabaseName } from './database-url.js';
export {
  migrateLatest,
  rollbackAll,
  MIGRATION_ADVISORY_LOCK_KEY,
  MIN_MIGRATION_POOL_SIZE,
  MigrationPoolTooSmallError,
} from './migrate.js';
export type { MigrationResult } from './migrate.js';
export { migrationSource, MIGRATION_NAMES } from './migrations/index.js';
export * from './domain.js';
export * from './pg-errors.js';
export { createBusinessRepository, PhoneNumberInUseError } from './repositories/business-repository.js';
export type { Business, BusinessRepository, NewBusiness } from './repositories/business-repository.js';
export { createCallRepository } from './repositories/call-repository.js';
export { CALL_ROW_RETRY_DELAYS_MS, writeCallRow } from './call-row-writes.js';
export type { CallRowWrite, CallRowWriteHooks } from './call-row-writes.js';
export type {
  CallRepository,
  CallReceived,
  CallEnded,
  CallPlaced,
  CallRefusedByWebhook,
  CallUnanswered,
  StreamStarted,
} from './repositories/call-repository.js';
export type { Call, CallUsage, TranscriptTurn } from './repositories/call-row.js';
export { createCallSearch, FAULT_END_REASONS } from './repositories/call-search.js';
export type { CallSearch, TimeWindow } from './repositories/call-search.js';
export { callUsageSchema, transcriptTurnSchema, TRANSCRIPT_ROLES } from './repositories/call-row.js';
export { createOutboundRequestRepository } from './repositories/outbound-request-repository.js';
export type {
  KeptAnswer,
  OutboundRequestRepository,
  OutboundRequestStart,
  OutboundRequestTimings,
} from './repositories/outbound-request-repository.js';
export { createAppointmentRepository, MAX_APPOINTMENT_MINUTES } from './repositories/appointment-repository.js';
export type {
  Appointment,
  AppointmentRepository,
  AppointmentRepositoryOptions,
  AppointmentRequest,
  BookingFailureReason,
  BookingOptions,
  BookingResult,
} from './repositories/appointment-repository.js';
export {
  seedDemoBusiness,
  DEMO_PHONE_NUMBER,
  DEMO_BUSINESS_ID,
  DEMO_BUSINESS_NAME,
  DEMO_GREETING,
  DEMO_AI_PROMPT,
} from './seed.js';
export {
  testDatabaseUrl,
  prepareTestDatabase,
  ensureDatabaseExists,
  dropDatabase,
  uniquePhoneNumber,
  uniqueCallSid,
  TEST_DATABASE_NAME,
} from './testing.js';
export type { TestDatabase } from './testing.js';
export { describeFailure as describeDatabaseFailure } from './cli/describe-failure.js';
export { cliKnexLog } from './cli/knex-log.js';
