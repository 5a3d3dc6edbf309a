/**
 * The local OpenAI Realtime GA server: TLS, the upgrade checks the real API
 * makes (path, key, beta header), the connection-level failure modes, and the
 * list of recorded sessions. Point the real SDK at it with
 * `new OpenAI({ apiKey, baseURL: double.baseURL })` and `options: { ca: double.caCert }`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { loadOrCreateTlsCertificate } from '../tls/index.js';
import type { TlsCertificate } from '../tls/index.js';
import { DEFAULT_BEHAVIOUR, validateBehaviour } from './behaviour.js';
import type { RealtimeDoubleBehaviour } from './behaviour.js';
import { API_PATH_PREFIX, CLOSE_GOING_AWAY, DEFAULT_HOST, REALTIME_PATH } from './constants.js';
import { newId } from './ids.js';
import { RecordedSession } from './recorded-session.js';
import { DoubleSession } from './session.js';
import type { RealtimeDoubleTap } from './session.js';
import { createDefaultSessionConfig } from './session-config.js';

export interface RealtimeDoubleOptions {
  /** The only key accepted in `Authorization: Bearer …`. */
  apiKey: string;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Where the shared certificate lives (default `<repo root>/.cache/tls`). */
  tlsDir?: string;
  /** A certificate to use instead of the shared one. */
  certificate?: TlsCertificate;
  behaviour?: Partial<RealtimeDoubleBehaviour>;
  /** Watches (and may stamp) the audio of every session; see RealtimeDoubleTap. */
  tap?: RealtimeDoubleTap;
  /**
   * Record every append and delta (events and audio bytes) in `sessions`. Default true.
   * A load test turns it off: at 50 frames per second per call the recording is most of the memory.
   */
  recordFrames?: boolean;
}

export class RealtimeDoubleStateError extends Error {
  override name = 'RealtimeDoubleStateError';
}

const OPENAI_BETA_HEADER = 'openai-beta';
const BETA_REALTIME_VALUE = 'realtime=v1';

export class RealtimeDouble {
  readonly sessions: RecordedSession[] = [];
  private behaviourState: RealtimeDoubleBehaviour;
  private server: Server | undefined;
  private readonly wss = new WebSocketServer({ noServer: true });
  private certificate: TlsCertificate | undefined;
  private readonly live = new Set<DoubleSession>();
  private readonly sockets = new Set<Socket>();
  private readonly pendingUpgrades = new Set<NodeJS.Timeout>();
  /** Upgrades waiting for `holdUpgrades` to be turned off. */
  private heldUpgrades: Array<() => void> = [];
  private connections = 0;
  private stopping = false;

  constructor(private readonly options: RealtimeDoubleOptions) {
    this.behaviourState = { ...DEFAULT_BEHAVIOUR, ...options.behaviour };
    validateBehaviour(this.behaviourState);
  }

  get behaviour(): Readonly<RealtimeDoubleBehaviour> {
    return this.behaviourState;
  }

  /** Changes behaviour at runtime; open sessions see it at their next decision. */
  setBehaviour(partial: Partial<RealtimeDoubleBehaviour>): void {
    const next = { ...this.behaviourState, ...partial };
    validateBehaviour(next);
    this.behaviourState = next;
    if (!next.holdUpgrades) for (const release of this.heldUpgrades.splice(0)) release();
  }

  get port(): number {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new RealtimeDoubleStateError('RealtimeDouble is not listening; await start() first');
    return address.port;
  }

  /** For `new OpenAI({ baseURL })`; the SDK turns it into `wss://…/v1/realtime?model=…`. */
  get baseURL(): string {
    return `https://${this.options.host ?? DEFAULT_HOST}:${this.port}${API_PATH_PREFIX}`;
  }

  /** The PEM certificate clients must trust (`options: { ca }` or NODE_EXTRA_CA_CERTS=certPath). */
  get caCert(): string {
    return this.requireCertificate().cert;
  }

  get certPath(): string {
    return this.requireCertificate().certPath;
  }

  get openSessionCount(): number {
    return this.live.size;
  }

  /** Connection attempts: upgrades (accepted or rejected) plus refused TCP connections. */
  get totalConnections(): number {
    return this.connections;
  }

  async start(): Promise<void> {
    if (this.server) throw new RealtimeDoubleStateError('RealtimeDouble already started');
    this.certificate = this.options.certificate ?? (await loadOrCreateTlsCertificate(this.options.tlsDir));
    const server = createServer({ cert: this.certificate.cert, key: this.certificate.key }, (req, res) =>
      this.onHttpRequest(req, res),
    );
    server.on('connection', (socket: Socket) => this.onConnection(socket));
    server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    // Failed TLS handshakes (e.g. a client that does not trust the cert) are the client's problem to report.
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? DEFAULT_HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** Closes every session (1001), then the server; resolves when no socket or timer is left. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server || this.stopping) return;
    this.stopping = true;
    for (const timer of this.pendingUpgrades) clearTimeout(timer);
    this.pendingUpgrades.clear();
    this.heldUpgrades = [];
    const sessions = [...this.live];
    for (const session of sessions) session.close(CLOSE_GOING_AWAY, 'server shutting down');
    await Promise.all(sessions.map((s) => s.closed));
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.wss.close();
    await closed;
    this.server = undefined;
    this.stopping = false;
  }

  private onConnection(socket: Socket): void {
    if (this.behaviourState.refuseConnections) {
      this.connections += 1;
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
  }

  private onHttpRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'https://double').pathname;
    const status = path === REALTIME_PATH ? 426 : 404;
    const message = status === 426 ? 'Expected a WebSocket upgrade' : `Invalid URL (${req.method} ${path})`;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message, type: 'invalid_request_error', code: null, param: null } }));
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.connections += 1;
    socket.on('error', () => undefined);
    const b = this.behaviourState;
    const url = new URL(req.url ?? '/', 'https://double');
    if (this.stopping) return rejectUpgrade(socket, 503, 'server shutting down');
    if (url.pathname !== REALTIME_PATH) return rejectUpgrade(socket, 404, `Invalid URL (GET ${url.pathname})`);
    if (b.rejectUpgradeStatus !== undefined)
      return rejectUpgrade(socket, b.rejectUpgradeStatus, 'rejectUpgradeStatus (double failure mode)');
    // The socket stays open until the client gives up or stop() destroys it.
    if (b.hangUpgrade) return;
    const afterDelay = () => this.afterConnectDelay(() => this.completeUpgrade(req, socket, head, url));
    // Held upgrades go on (after connectDelayMs) once a test turns holdUpgrades off.
    if (b.holdUpgrades) this.heldUpgrades.push(afterDelay);
    else afterDelay();
  }

  private afterConnectDelay(proceed: () => void): void {
    const b = this.behaviourState;
    if (b.connectDelayMs <= 0) return proceed();
    const timer = setTimeout(() => {
      this.pendingUpgrades.delete(timer);
      proceed();
    }, b.connectDelayMs);
    this.pendingUpgrades.add(timer);
  }

  private completeUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    if (socket.destroyed) return;
    if (req.headers.authorization !== `Bearer ${this.options.apiKey}`) {
      return rejectUpgrade(socket, 401, 'Incorrect API key provided.', 'invalid_api_key');
    }
    const model = url.searchParams.get('model');
    if (!model) return rejectUpgrade(socket, 400, "Missing required parameter: 'model'.", 'missing_required_parameter');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onSession(ws, req, model));
  }

  private onSession(ws: WebSocket, req: IncomingMessage, model: string): void {
    const id = newId('sess');
    const headers: RecordedSession['headers'] = {};
    if (req.headers.authorization) headers.authorization = req.headers.authorization;
    const beta = headerValue(req.headers[OPENAI_BETA_HEADER]);
    if (beta) headers['openai-beta'] = beta;
    if (req.headers['user-agent']) headers['user-agent'] = req.headers['user-agent'];
    const recorder = new RecordedSession(id, model, headers, createDefaultSessionConfig(id, model, Date.now()));
    this.sessions.push(recorder);
    const session = new DoubleSession(ws, recorder, () => this.behaviourState, {
      tap: this.options.tap,
      recordFrames: this.options.recordFrames,
    });
    this.live.add(session);
    void session.closed.then(() => this.live.delete(session));
    if (beta?.includes(BETA_REALTIME_VALUE)) return session.refuseBeta(`header OpenAI-Beta: ${beta}`);
    session.open();
  }

  private requireCertificate(): TlsCertificate {
    if (!this.certificate)
      throw new RealtimeDoubleStateError('RealtimeDouble has no certificate yet; await start() first');
    return this.certificate;
  }
}

function rejectUpgrade(socket: Duplex, status: number, message: string, code: string | null = null): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ error: { message, type: 'invalid_request_error', code, param: null } });
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}
