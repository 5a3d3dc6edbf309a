/** Where Twilio reaches this service for an outbound call (under PUBLIC_BASE_URL; every one signed). */
export const OUTBOUND_PATHS = {
  /** The voice webhook, the same as for inbound calls: the callee answered. */
  voice: '/twilio/voice',
  /** Call status callback: initiated, ringing, answered, completed (or busy, no-answer, failed, canceled). */
  callStatus: '/twilio/call-status',
  /** Asynchronous answering machine detection result. */
  amdStatus: '/twilio/amd-status',
} as const;
