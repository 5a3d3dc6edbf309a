/**
 * A local double of the Twilio REST API: live-call control,
 * `POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json` (update a live
 * call: Twiml, Url, Status), and with `outbound` set, placing calls,
 * `GET …/Calls/{CallSid}.json` (calls(sid).fetch: a placed call's status now, or an
 * inbound call's through `inboundStatus`),
 * `POST /2010-04-01/Accounts/{AccountSid}/Calls.json` (calls.create: checked as
 * Twilio checks it, call-create.ts; then the callee is played, outbound-call.ts).
 * Checks HTTP Basic auth like Twilio (401 with Twilio's error JSON otherwise)
 * and records every request for assertions. The twilio SDK reaches it through a
 * custom `httpClient` that rewrites the host.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { twilioError, validateCallCreate, type CallCreateRequest } from './call-create.js';
import { OutboundCall, type CalleeBehaviour } from './outbound-call.js';
import { TWILIO_API_VERSION } from './constants.js';
import { newSid } from './sids.js';

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
  /** Accept calls.create and play the callees. */
  outbound?: OutboundOptions;
  /**
   * The status now (Twilio's word: in-progress, completed, ...) of a call this double did not place,
   * for calls(sid).fetch(): wire it to the inbound callers (`TwilioCallerDouble.twilioStatus`).
   * Undefined, or a call it does not know: 404, as Twilio answers an unknown CallSid.
   */
  inboundStatus?: (callSid: string) => string | undefined;
}

export interface OutboundOptions {
  /** How the callee of each placed call behaves (default: a person who answers). */
  callee?: (request: CallCreateRequest) => CalleeBehaviour;
  /** The account's numbers: From must be one (21210 otherwise). Undefined: any E.164 From. */
  ownedNumbers?: () => readonly string[] | undefined;
  /** Public webhook / callback URL -> where the app really listens. */
  resolveUrl(publicUrl: string): string;
  /** Public wss stream URL -> where the socket really connects. */
  resolveStreamUrl(publicUrl: string): string;
}

const CALL_UPDATE = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Calls\/(CA[0-9a-f]{32})\.json$/i;
const CALL_CREATE = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Calls\.json$/i;
/** Twilio: a call that is not in progress (ended, or still ringing) cannot be redirected. */
const CALL_NOT_IN_PROGRESS = 21220;
const TWILIO_AUTH_ERROR = {
  code: 20003,
  message: 'Authenticate',
  more_info: 'https://www.twilio.com/docs/errors/20003',
  status: 401,
};

/** What Twilio answers when it fails on its side (a 5xx is worth another try; a 4xx is not). */
const TWILIO_INTERNAL_ERROR = {
  code: 20500,
  message: 'An internal server error has occurred',
  more_info: 'https://www.twilio.com/docs/errors/20500',
  status: 500,
};

export class TwilioRestDouble {
  readonly requests: RecordedRestRequest[] = [];
  /** Calls placed through calls.create, by CallSid. */
  readonly outboundCalls = new Map<string, OutboundCall>();
  private server: Server | undefined;
  private readonly startedAt = Date.now();
  private failingUpdates = 0;

  /** The next `count` authorized call updates fail with Twilio's 500 (20500), as on a bad minute of Twilio's. */
  failNextCallUpdates(count: number): void {
    this.failingUpdates = count;
  }

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
    for (const call of this.outboundCalls.values()) call.complete();
    await Promise.allSettled([...this.outboundCalls.values()].map((c) => c.done));
    const closed = new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    this.server = undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const path = (req.url ?? '').split('?')[0] ?? '';
    const form = new URLSearchParams(body);
    const params = Object.fromEntries(form);
    const create = req.method === 'POST' ? CALL_CREATE.exec(path) : null;
    if (create) return this.create(req, res, path, create[1]!, form);
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
    if (req.method === 'GET' && match) return this.fetchCall(res, match[1]!, match[2]!);
    if (req.method !== 'POST' || !match) return json(res, 404, NOT_FOUND);
    if (this.failingUpdates > 0) {
      this.failingUpdates--;
      return json(res, 500, TWILIO_INTERNAL_ERROR);
    }
    const placed = this.outboundCalls.get(match[2]!);
    if (placed) return this.updatePlaced(res, placed, params, path);
    this.options.onCallUpdate?.(match[2]!, params);
    json(res, 200, { sid: match[2], account_sid: match[1], status: params.Status ?? 'in-progress', uri: path });
  }

  private create(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    accountSid: string,
    form: URLSearchParams,
  ): void {
    const authorized = this.authorized(req.headers.authorization);
    const record: RecordedRestRequest = {
      method: 'POST',
      path,
      accountSid,
      params: Object.fromEntries(form),
      authorized,
      atMs: Date.now() - this.startedAt,
    };
    this.requests.push(record);
    if (!authorized) return json(res, 401, TWILIO_AUTH_ERROR);
    const outbound = this.options.outbound;
    if (!outbound) return json(res, 404, NOT_FOUND);
    const result = validateCallCreate(form, outbound.ownedNumbers?.());
    if (!result.ok) return json(res, result.error.status, result.error);
    const sid = newSid('CA');
    record.callSid = sid;
    const request = result.request;
    const call = new OutboundCall({
      sid,
      accountSid,
      authToken: this.options.authToken,
      request,
      behaviour: outbound.callee?.(request) ?? { answer: 'human' },
      resolveUrl: (url) => outbound.resolveUrl(url),
      resolveStreamUrl: (url) => outbound.resolveStreamUrl(url),
    });
    this.outboundCalls.set(sid, call);
    json(res, 201, callResource(sid, accountSid, request, 'queued'));
  }

  /** calls(sid).fetch(): a call this double placed, or an inbound one `inboundStatus` knows, with its status now. */
  private fetchCall(res: ServerResponse, accountSid: string, sid: string): void {
    const call = this.outboundCalls.get(sid);
    if (!call) {
      const status = this.options.inboundStatus?.(sid);
      if (status === undefined) return json(res, 404, NOT_FOUND);
      return json(res, 200, { sid, account_sid: accountSid, direction: 'inbound', status, duration: null });
    }
    const resource = callResource(sid, accountSid, call.request, call.callStatus);
    json(res, 200, { ...resource, duration: call.durationS === undefined ? null : String(call.durationS) });
  }

  private updatePlaced(res: ServerResponse, call: OutboundCall, params: Record<string, string>, path: string): void {
    if (params.Status === 'completed' || params.Status === 'canceled') {
      call.complete();
      return json(res, 200, { sid: call.sid, status: 'completed', uri: path });
    }
    if (params.Twiml !== undefined) {
      if (!call.redirect(params.Twiml))
        return json(res, 400, twilioError(CALL_NOT_IN_PROGRESS, 'Call is not in-progress. Cannot redirect.'));
      return json(res, 200, { sid: call.sid, status: 'in-progress', uri: path });
    }
    json(
      res,
      400,
      twilioError(CALL_NOT_IN_PROGRESS, 'Only Twiml= and Status=completed are simulated on a placed call.'),
    );
  }

  private authorized(header: string | undefined): boolean {
    if (!header?.startsWith('Basic ')) return false;
    const [user, pass] = Buffer.from(header.slice('Basic '.length), 'base64').toString().split(':');
    return user === this.options.accountSid && pass === this.options.authToken;
  }
}

const NOT_FOUND = {
  code: 20404,
  message: 'The requested resource was not found',
  more_info: 'https://www.twilio.com/docs/errors/20404',
  status: 404,
};

/** The call resource as Twilio answers calls.create (the fields the SDK reads; the rest null). */
function callResource(sid: string, accountSid: string, request: CallCreateRequest, status: string) {
  const now = new Date().toUTCString();
  return {
    sid,
    account_sid: accountSid,
    to: request.to,
    to_formatted: request.to,
    from: request.from,
    from_formatted: request.from,
    status,
    direction: 'outbound-api',
    api_version: TWILIO_API_VERSION,
    date_created: now,
    date_updated: now,
    start_time: null,
    end_time: null,
    duration: null,
    price: null,
    answered_by: null,
    parent_call_sid: null,
    uri: `/${TWILIO_API_VERSION}/Accounts/${accountSid}/Calls/${sid}.json`,
  };
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
