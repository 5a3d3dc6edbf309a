/** WebSocket close codes the gateway sends, and the one it is told of (RFC 6455 section 7.4.1). */
export const CLOSE = {
  /** Call over; Twilio then runs the TwiML after </Connect>. */
  normal: 1000,
  /** The gateway is shutting down. */
  goingAway: 1001,
  /** START refused (call token, CallSid). */
  policy: 1008,
  internalError: 1011,
  /** The gateway is full (GATEWAY_MAX_STREAMS). */
  tryAgainLater: 1013,
  /** Never sent: what a socket that closed with no close frame reports (the connection broke). */
  abnormal: 1006,
} as const;
