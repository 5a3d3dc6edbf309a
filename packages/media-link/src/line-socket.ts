/**
 * A TCP socket read as newline-terminated text lines. Whoever currently owns
 * the socket (the handshake, then the link) sets `onLine`; data that arrives
 * in one chunk with the handshake's last line is not lost in the hand-over.
 */
import type { Socket } from 'node:net';

export class LineSocket {
  onLine: (line: string) => void = () => undefined;
  /** Called once with the reason the socket is gone. */
  onGone: (reason: string) => void = () => undefined;
  /** Epoch ms of the last byte received. */
  lastHeardAt = Date.now();
  private partial = '';
  private gone = false;

  constructor(
    readonly socket: Socket,
    private readonly maxLineBytes: number,
  ) {
    socket.setEncoding('utf8');
    // Audio is latency-bound: never let Nagle hold a 250-byte frame back.
    socket.setNoDelay(true);
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => this.end(err.code ?? 'socket_error'));
    socket.on('close', () => this.end('closed'));
  }

  get isGone(): boolean {
    return this.gone;
  }

  write(text: string): boolean {
    if (this.gone) return false;
    this.socket.write(text);
    return true;
  }

  /** Closes at once (no more reads, unsent data dropped) and reports `reason`. */
  destroy(reason: string): void {
    this.end(reason);
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.lastHeardAt = Date.now();
    let from = 0;
    let newline = chunk.indexOf('\n');
    if (newline < 0) {
      this.partial += chunk;
      if (this.partial.length > this.maxLineBytes) this.destroy('line_too_long');
      return;
    }
    let line = this.partial + chunk.slice(0, newline);
    this.partial = '';
    for (;;) {
      if (this.gone) return;
      if (line.length > 0) this.onLine(line);
      from = newline + 1;
      newline = chunk.indexOf('\n', from);
      if (newline < 0) break;
      line = chunk.slice(from, newline);
    }
    this.partial = chunk.slice(from);
    if (this.partial.length > this.maxLineBytes) this.destroy('line_too_long');
  }

  private end(reason: string): void {
    if (this.gone) return;
    this.gone = true;
    this.onGone(reason);
  }
}
