/**
 * One Twilio media WebSocket, from upgrade to close.
 *
 * Phases: awaiting_start (watchdog armed) -> starting (START's token check in
 * flight; frames behind it are held) -> streaming (audio both ways) -> closing
 * (only after a hangup with a clip: no more outbound entries, waiting for the
 * clip's mark echo) -> ended.
 * A call is ended exactly once, whichever comes first: Twilio's stop, the
 * socket closing, a hangup from the bridge, or shutdown.
 */
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import { callLogger } from '@voice/logging';
import type { Logger } from '@voice/logging';
import { ENDED_ON_PURPOSE_TTL_SECONDS, callKeys, preciseNow } from '@voice/redis';
import { errorFields } from '@voice/logging';
import type { TwilioInboundMessage, TwilioOutboundMessage } from '@voice/protocols';
import type { GatewayContext } from '../context.js';
import type { StreamRoute } from '../upgrade.js';
import { dispatch } from '../handlers/index.js';
import type { ActiveStream } from './active-stream.js';
import type { BridgeCall } from './bridge-call.js';
import { CallCheckpoints } from './call-checkpoints.js';
import { CLOSE } from './close-codes.js';
import { CorkedWrites } from './corked-writes.js';
import { decodeFrame } from './decode-frame.js';
import { FloodGuard } from './flood-guard.js';
import { InvalidInput } from './invalid-input.js';
import { settleNoStart } from './no-start.js';
import type { NoStartSocket } from './no-start.js';
import { PendingHangup } from './pending-hangup.js';
import { StartWatchdog } from './start-watchdog.js';

export type SessionPhase = 'awaiting_start' | 'starting' | 'streaming' | 'closing' | 'ended';

export interface SessionOrigin {
  route: StreamRoute;
  /** The caller's address as the gateway saw it (X-Forwarded-For first, behind a load balancer). */
  remote: string;
  subprotocol: string;
  acceptedAt: number;
  /** Correlates this socket's log lines before its CallSid is known. */
  socketId: string;
  /** The TCP socket under the WebSocket: sends of one piece of work are written together (corked-writes.ts). */
  transport: Duplex;
}

export class MediaSession implements NoStartSocket {
  private readonly writes: CorkedWrites;
  phase: SessionPhase = 'awaiting_start';
  stream: ActiveStream | undefined;
  hadTraffic = false;
  readonly pathCallSid: string | undefined;
  readonly acceptedAt: number;
  readonly remote: string;
  readonly checkpoints: CallCheckpoints;
  readonly invalid: InvalidInput;
  /** Resolves once the socket has closed and the session has reacted to it. */
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private socketClosed = false;
  /** Why the socket is being closed by us, when we know better than "socket_closed". */
  private closeReason: string | undefined;
  private backlog: TwilioInboundMessage[] = [];
  /** The call's tie to its bridge (set at START). */
  private bridgeCall: BridgeCall | undefined;
  private pendingHangup: PendingHangup | undefined;
  private readonly floodGuard: FloodGuard;
  private readonly watchdog: StartWatchdog;
  private currentLog: Logger;

  constructor(
    private readonly ws: WebSocket,
    readonly ctx: GatewayContext,
    origin: SessionOrigin,
  ) {
    const { config } = ctx;
    this.pathCallSid = origin.route.callSid;
    this.acceptedAt = origin.acceptedAt;
    this.remote = origin.remote;
    this.writes = new CorkedWrites(origin.transport);
    this.currentLog = ctx.logger.child({ socket: origin.socketId, remote: origin.remote });
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.checkpoints = new CallCheckpoints(ctx.timeline, this.currentLog, (write) => ctx.pending.track(write));
    this.invalid = new InvalidInput(ctx.metrics, this.checkpoints, () => this.currentLog);
    this.floodGuard = new FloodGuard(config.maxMessagesPerSecond, config.floodWindowMs);
    this.watchdog = new StartWatchdog({
      warnMs: config.startWarnMs,
      timeoutMs: config.startTimeoutMs,
      onSlow: (waitedMs) => this.onStartSlow(waitedMs),
      onTimeout: () => this.onStartTimeout(),
    });

    ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    ws.on('error', (err) => this.onSocketError(err));
    ws.on('close', (code) => this.onClose(code));
    ctx.metrics.openSockets.inc();

    this.checkpoints.record('ws.accepted', { subprotocol: origin.subprotocol || 'none', remote: origin.remote });
    // A CallSid in the path names the call in the logs at once, but its timeline gets the held
    // checkpoints only once it is known to be a call here (START accepted, or its meta found when
    // no START came): a signed upgrade can be replayed, and a stale URL may name no call at all.
    if (this.pathCallSid) this.currentLog = callLogger(this.currentLog, { callSid: this.pathCallSid });
    this.watchdog.arm();
  }

  get log(): Logger {
    return this.currentLog;
  }

  /** The CallSid is known: the logger carries it and held checkpoints go to its timeline. */
  bindCall(callSid: string, streamSid?: string): void {
    this.currentLog = callLogger(this.currentLog, streamSid ? { callSid, streamSid } : { callSid });
    this.checkpoints.bind(callSid, this.currentLog);
  }

  /** START arrived: stop the watchdog and hold further frames until it is accepted or refused. */
  beginStart(): void {
    this.phase = 'starting';
    this.watchdog.cancel();
  }

  acceptStream(stream: ActiveStream, bridgeCall: BridgeCall): void {
    this.stream = stream;
    this.bridgeCall = bridgeCall;
    this.phase = 'streaming';
    const held = this.backlog;
    this.backlog = [];
    for (const message of held) {
      if (this.phase !== 'streaming') break;
      dispatch(this, message);
    }
    // Twilio may have hung up while the token was being checked.
    if (this.socketClosed) this.endCall(this.closeReason ?? 'socket_closed');
  }

  rejectStart(code: number, reason: string): void {
    this.phase = 'ended';
    this.backlog = [];
    this.closeSocket(code, reason);
  }

  /** The stream's streamSid check for every message after START (bad ones are counted, not fatal). */
  requireStream(streamSid: string): ActiveStream | undefined {
    const stream = this.stream;
    if (!stream) {
      this.invalid.report('before_start');
      return undefined;
    }
    if (streamSid !== stream.streamSid) {
      this.invalid.report('wrong_stream_sid', streamSid.slice(0, 40));
      return undefined;
    }
    return stream;
  }

  send(message: TwilioOutboundMessage): boolean {
    if (this.socketClosed || this.ws.readyState !== this.ws.OPEN) return false;
    this.writes.hold();
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /**
   * Hangup after a clip: stop taking outbound entries and close once Twilio echoes
   * `markName` (sent right after the clip), or after `waitMs` if it never does.
   */
  closeAfterMark(stopReason: string, markName: string, waitMs: number): void {
    if (this.phase !== 'streaming') return;
    this.phase = 'closing';
    this.pendingHangup = new PendingHangup(stopReason, markName, waitMs, () => {
      this.log.warn('hangup mark not echoed in time; closing the stream', { markName, waitMs });
      this.endCall(stopReason);
    });
  }

  /** True when `name` is the gateway's own hangup mark (the clip has played); the call then ends. */
  onHangupMarkEchoed(name: string): boolean {
    const pending = this.pendingHangup;
    if (!pending || pending.markName !== name) return false;
    this.endCall(pending.stopReason);
    return true;
  }

  /**
   * Ends the started call once: tells the bridge (stop, with the counts), notes it, closes. A close
   * that starts here is on purpose (a hangup, a fallback, Twilio's stop): the call is marked ended
   * first, so Twilio's <Connect action> post gets the fallback and a hangup, not a new stream.
   */
  endCall(reason: string, code: number = CLOSE.normal): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    this.watchdog.cancel();
    this.pendingHangup?.cancel();
    const stream = this.stream;
    if (stream) {
      stream.hold.stop(false);
      this.checkpoints.record('stream.stopped', { reason, rx: stream.rx, tx: stream.tx });
      this.bridgeCall?.end({
        t: 'stop',
        call: stream.callSid,
        reason,
        rx: stream.rx,
        tx: stream.tx,
        txBytes: stream.txBytes,
        firstAudioAt: stream.firstAudioAt,
        endedAt: Date.now(),
        invalidMessages: this.invalid.count,
      });
    }
    if (this.socketClosed || !stream) return this.closeSocket(code, reason);
    void this.markEndedOnPurpose(stream.callSid, reason).then(() => this.closeSocket(code, reason));
  }

  /**
   * Shutdown (SIGTERM): a live call is handed over, not ended. The bridge is told the gateway is
   * going away (it keeps the model session) and the socket closes with 1001, unmarked, so Twilio
   * posts <Connect action> and the call reconnects through another gateway. A call already hanging
   * up, or a socket with no call yet, just closes.
   */
  shutdown(): void {
    this.closeReason ??= 'gateway_shutdown';
    if (this.handOver('gateway_shutdown')) this.closeSocket(CLOSE.goingAway, 'gateway_shutdown');
    else if (this.hasStream) this.endCall('gateway_shutdown', CLOSE.goingAway);
    else this.closeSocket(CLOSE.goingAway, 'gateway_shutdown');
  }

  /**
   * The stream ends but the call does not: the bridge keeps the model session (it was told
   * `detach`), nothing is marked ended, and Twilio's <Connect action> brings the call back on a new
   * stream. False when there is no attached live call to hand over.
   */
  private handOver(reason: 'gateway_shutdown' | 'socket_lost'): boolean {
    const stream = this.stream;
    if (this.phase !== 'streaming' || !stream || !this.bridgeCall?.handOver(reason)) return false;
    this.phase = 'ended';
    stream.hold.stop(false);
    this.checkpoints.record('stream.stopped', { reason, rx: stream.rx, tx: stream.tx, handed_over: true });
    return true;
  }

  /** The ended-on-purpose marker, waited for at most endedMarkWaitMs (a slow Redis must not hold the caller). */
  private async markEndedOnPurpose(callSid: string, reason: string): Promise<void> {
    const { redis, config } = this.ctx;
    let timer: NodeJS.Timeout | undefined;
    const write = redis
      .set(callKeys.endedOnPurpose(callSid), reason.slice(0, 100), 'EX', ENDED_ON_PURPOSE_TTL_SECONDS)
      .then(() => undefined)
      .catch((err: unknown) => this.log.warn('ended-on-purpose marker not written', errorFields(err)));
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, config.endedMarkWaitMs)));
    await Promise.race([write, waited]);
    clearTimeout(timer);
  }

  /** Last resort when a close handshake does not complete. */
  terminate(): void {
    this.ws.terminate();
  }

  /** Resolves when this session's timeline writes have landed. */
  settled(): Promise<void> {
    return this.checkpoints.settled();
  }

  /** A started call not yet ended (streaming, or closing after a hangup clip). */
  private get hasStream(): boolean {
    return this.phase === 'streaming' || this.phase === 'closing';
  }

  private closeSocket(code: number, reason: string): void {
    if (this.socketClosed) return;
    // Close reasons are capped at 123 bytes by the protocol.
    this.ws.close(code, reason.slice(0, 100));
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    const at = preciseNow();
    this.hadTraffic = true;
    if (this.phase === 'ended') return;
    if (!this.floodGuard.admit(at)) {
      this.invalid.report('flood');
      return;
    }
    const decoded = decodeFrame(toBuffer(data), isBinary);
    if (!decoded.ok) {
      this.invalid.report(decoded.kind, decoded.detail);
      return;
    }
    if (this.phase === 'starting' && decoded.message.event !== 'start') {
      if (this.backlog.length >= this.ctx.config.startBacklogMaxMessages) this.invalid.report('start_backlog');
      else this.backlog.push(decoded.message);
      return;
    }
    dispatch(this, decoded.message);
  }

  private onSocketError(err: Error): void {
    this.hadTraffic = true;
    const code = (err as { code?: unknown }).code;
    if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
      this.invalid.report('oversize', err.message);
      this.closeReason ??= 'message_too_big';
    } else {
      this.invalid.report('protocol_error', typeof code === 'string' ? code : err.message);
      this.closeReason ??= 'protocol_error';
    }
    // ws closes the socket itself after a protocol error; 'close' ends the call.
  }

  private onClose(code: number): void {
    if (this.socketClosed) return;
    this.socketClosed = true;
    this.watchdog.cancel();
    this.ctx.metrics.openSockets.dec();
    if (this.phase === 'awaiting_start') {
      this.phase = 'ended';
      const reason = this.closeReason === 'gateway_shutdown' ? 'gateway_shutdown' : 'closed_before_start';
      this.ctx.pending.track(settleNoStart(this, reason));
    } else if (this.hasStream) {
      // The connection broke under a live call (no close frame, no `stop`, not closed by us: a load
      // balancer restarted, the network): not the end of the call. Twilio posts <Connect action> and
      // the call comes back on a new stream; if the call is in fact over, the bridge ends it once its
      // reattach grace runs out. A clean close without `stop` still ends the call.
      const broken = code === CLOSE.abnormal && this.closeReason === undefined;
      const lost = broken && this.handOver('socket_lost');
      if (!lost) this.endCall(this.closeReason ?? 'socket_closed');
    }
    // 'starting': the START handler finishes the job once the token check returns.
    this.resolveClosed();
  }

  private onStartSlow(waitedMs: number): void {
    if (this.phase !== 'awaiting_start') return;
    // Held until the call is known: if START still comes, the timeline shows it was slow.
    this.checkpoints.record('stream.start_slow', { waited_ms: waitedMs }, 'warn');
    if (!this.checkpoints.boundCallSid)
      this.log.warn('stream.start_slow', { event: 'stream.start_slow', waited_ms: waitedMs });
  }

  private onStartTimeout(): void {
    if (this.phase !== 'awaiting_start') return;
    this.phase = 'ended';
    // Close first: for a real call, Twilio then plays the fallback TwiML without waiting on our writes.
    this.closeSocket(CLOSE.normal, 'no_start');
    this.ctx.pending.track(settleNoStart(this, 'start_timeout'));
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
