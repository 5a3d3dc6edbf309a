/**
 * A local double of the Twilio REST API, enough for live-call control:
 * `POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json` (update a live
 * call: Twiml, Url, Status). Checks HTTP Basic auth like Twilio (401 with
 * Twilio's error JSON otherwise) and records every request for assertions.
 * The twilio SDK reaches it through a custom `httpClient` that rewrites the host.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';

export interface RecordedRestRequest {
  method: string;
  path: string;
  accountSid: string;
  callSid?: string;
  params: Record<string, string>;
  authorized: boolean;
  atMs: number;
}

export interface TwilioRestDoubleOptions {
  accountSid: string;
  authToken: string;
  /** Called for every authorized call update, e.g. to end the caller's stream as Twilio would. */
  onCallUpdate?: (callSid: string, params: Record<string, string>) => void;
}

const CALL_UPDATE = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Calls\/(CA[0-9a-f]{32})\.json$/i;
const TWILIO_AUTH_ERROR = { code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 };

export class TwilioRestDouble {
  readonly requests: RecordedRestRequest[] = [];
  private server: Server | undefined;
  private readonly startedAt = Date.now();

  constructor(private readonly options: TwilioRestDoubleOptions) {}

  get baseURL(): string {
    const address = this.server?.address();
    return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    const closed = new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    this.server = undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const path = (req.url ?? '').split('?')[0] ?? '';
    const params = Object.fromEntries(new URLSearchParams(body));
    const match = CALL_UPDATE.exec(path);
    const authorized = this.authorized(req.headers.authorization);
    const record: RecordedRestRequest = {
      method: req.method ?? '',
      path,
      accountSid: match?.[1] ?? '',
      callSid: match?.[2],
      params,
      authorized,
      atMs: Date.now() - this.startedAt,
    };
    this.requests.push(record);
    if (!authorized) return json(res, 401, TWILIO_AUTH_ERROR);
    if (req.method !== 'POST' || !match) return json(res, 404, { code: 20404, message: 'The requested resource was not found', status: 404 });
    this.options.onCallUpdate?.(match[2]!, params);
    json(res, 200, { sid: match[2], account_sid: match[1], status: params.Status ?? 'in-progress', uri: path });
  }

  private authorized(header: string | undefined): boolean {
    if (!header?.startsWith('Basic ')) return false;
    const [user, pass] = Buffer.from(header.slice('Basic '.length), 'base64').toString().split(':');
    return user === this.options.accountSid && pass === this.options.authToken;
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (data += chunk));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
