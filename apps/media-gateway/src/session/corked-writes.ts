/**
 * Messages to Twilio that are sent together (the agent frames and marks of one
 * link read, the greeting waiting at START, a clip) share one socket write: the
 * socket is corked at the first send and uncorked once the current piece of
 * work is done (process.nextTick). Without it every WebSocket message is a
 * writev syscall of its own, which on the gateway cost more CPU than building
 * the messages (bench CPU profile: the greeting burst at START alone was 6% of
 * the gateway's time). Each message is still its own WebSocket frame, in order.
 */
import type { Duplex } from 'node:stream';

export class CorkedWrites {
  private corked = false;

  constructor(private readonly socket: Duplex) {}

  /** Call before each write: the first one of this tick corks the socket. */
  hold(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(() => {
      this.corked = false;
      this.socket.uncork();
    });
  }
}
