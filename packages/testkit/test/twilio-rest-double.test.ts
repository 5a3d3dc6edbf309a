/**
 * The Twilio REST double placing calls, driven by the real twilio SDK: it
 * refuses what Twilio refuses (with Twilio's codes), and plays the callee:
 * status callbacks and the answer's webhook, signed as Twilio signs them.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { expect } from 'chai';
import twilio from 'twilio';
import { TwilioRestDouble } from '../src/twilio-double/rest-api.js';
import type { CalleeBehaviour } from '../src/twilio-double/outbound-call.js';
import { waitFor } from '../src/wait-for.js';

const ACCOUNT_SID = `AC${'1'.repeat(32)}`;
const AUTH_TOKEN = 'rest-double-auth-token';
const PUBLIC = 'https://app.example.test';
const BUSINESS = '+15005550006';
const CALLEE = '+15551230001';

type RequestOptions<T> = Parameters<typeof twilio.RequestClient.prototype.request<T>>[0];

/** The SDK pointed at the double, the way the services do it (a RequestClient rewriting the origin). */
class LocalRequestClient extends twilio.RequestClient {
  constructor(private readonly origin: string) {
    super();
  }
  override request<T>(opts: RequestOptions<T>) {
    const uri = new URL(opts.uri);
    const target = new URL(this.origin);
    uri.protocol = target.protocol;
    uri.host = target.host;
    return super.request<T>({ ...opts, uri: uri.toString() });
  }
}

interface Received {
  path: string;
  params: Record<string, string>;
  signedOk: boolean;
}

describe('twilio REST double: placing calls', function () {
  this.timeout(20_000);
  let app: Server;
  let received: Received[];
  let rest: TwilioRestDouble;
  let behaviour: CalleeBehaviour;
  let client: ReturnType<typeof twilio>;

  beforeEach(async () => {
    received = [];
    behaviour = { answer: 'busy', ringMs: 50 };
    // The app: records every callback and answers the voice webhook with a short TwiML.
    app = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const params = Object.fromEntries(new URLSearchParams(body));
        const path = req.url ?? '';
        const signedOk = twilio.validateRequest(
          AUTH_TOKEN,
          String(req.headers['x-twilio-signature']),
          PUBLIC + path,
          params,
        );
        received.push({ path, params, signedOk });
        if (path === '/voice')
          res
            .writeHead(200, { 'content-type': 'text/xml' })
            .end('<Response><Say>Hello from the app</Say><Hangup/></Response>');
        else res.writeHead(204).end();
      });
    });
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    const port = (app.address() as { port: number }).port;
    rest = new TwilioRestDouble({
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      outbound: {
        callee: () => behaviour,
        ownedNumbers: () => [BUSINESS],
        resolveUrl: (url) => `http://127.0.0.1:${port}${new URL(url).pathname}`,
        resolveStreamUrl: (url) => url,
      },
    });
    await rest.start();
    client = twilio(ACCOUNT_SID, AUTH_TOKEN, { httpClient: new LocalRequestClient(rest.baseURL) });
  });

  afterEach(async () => {
    await rest.stop();
    app.close();
    app.closeAllConnections();
  });

  const create = (overrides: Record<string, unknown> = {}) =>
    client.calls.create({
      to: CALLEE,
      from: BUSINESS,
      url: `${PUBLIC}/voice`,
      statusCallback: `${PUBLIC}/status`,
      statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
      machineDetection: 'DetectMessageEnd',
      asyncAmd: 'true',
      asyncAmdStatusCallback: `${PUBLIC}/amd`,
      ...overrides,
    });

  async function refusal(
    overrides: Record<string, unknown>,
  ): Promise<{ status: number; code: number | undefined; message: string }> {
    try {
      await create(overrides);
    } catch (err) {
      expect(err).to.be.instanceOf(twilio.RestException);
      const e = err as InstanceType<typeof twilio.RestException>;
      return { status: e.status, code: e.code, message: e.message };
    }
    throw new Error('the double accepted the call');
  }

  it("refuses what Twilio refuses, with Twilio's codes", async () => {
    expect(await refusal({ to: '5551234' })).to.deep.include({ status: 400, code: 21211 });
    expect((await refusal({ to: '+1555 123' })).message).to.include(
      "'To' number +1555 123 is not a valid phone number",
    );
    expect(await refusal({ from: '+15557654321' })).to.deep.include({ status: 400, code: 21210 });
    expect(await refusal({ from: 'Acme' })).to.deep.include({ code: 21212 });
    expect(await refusal({ url: 'ftp://nope' })).to.deep.include({ code: 21205 });
    expect(await refusal({ machineDetection: 'Always' })).to.deep.include({ code: 21234 });
    expect(await refusal({ asyncAmd: 'yes' })).to.deep.include({ code: 21234 });
    expect(await refusal({ machineDetectionTimeout: 90 })).to.deep.include({ code: 21234 });
    expect(await refusal({ asyncAmdStatusCallback: 'not a url' })).to.deep.include({ code: 21502 });
    const wrongKey = twilio(ACCOUNT_SID, 'wrong-token', { httpClient: new LocalRequestClient(rest.baseURL) });
    try {
      await wrongKey.calls.create({ to: CALLEE, from: BUSINESS, url: `${PUBLIC}/voice` });
      expect.fail('accepted a wrong auth token');
    } catch (err) {
      expect((err as InstanceType<typeof twilio.RestException>).code).to.equal(20003);
    }
    expect(rest.outboundCalls.size).to.equal(0);
  });

  it('accepts a valid call as queued and reports busy through signed status callbacks', async () => {
    const call = await create();
    expect(call.sid).to.match(/^CA[0-9a-f]{32}$/);
    expect(call.status).to.equal('queued');
    expect(call.direction).to.equal('outbound-api');
    expect(await rest.outboundCalls.get(call.sid)!.done).to.equal('busy');
    const statuses = received.filter((r) => r.path === '/status');
    expect(statuses.map((r) => r.params.CallStatus)).to.deep.equal(['queued', 'ringing', 'busy']);
    expect(
      statuses.every((r) => r.signedOk && r.params.CallSid === call.sid && r.params.Direction === 'outbound-api'),
    ).to.equal(true);
    expect(
      received.some((r) => r.path === '/voice'),
      'no answer, no webhook',
    ).to.equal(false);
  });

  it('posts the answer as an outbound-api voice webhook from the business number, then completed with a duration', async () => {
    behaviour = { answer: 'human', ringMs: 50 };
    const call = await create();
    const placed = rest.outboundCalls.get(call.sid)!;
    expect(await placed.done).to.equal('completed');
    const hook = received.find((r) => r.path === '/voice')!;
    expect(hook.signedOk).to.equal(true);
    expect(hook.params).to.include({ CallSid: call.sid, Direction: 'outbound-api', From: BUSINESS, To: CALLEE });
    const summary = await placed.caller!.done;
    expect(summary.spokenByTwilio.map((s) => s.text)).to.deep.equal(['Hello from the app']);
    const statuses = received.filter((r) => r.path === '/status').map((r) => r.params);
    expect(statuses.map((p) => p.CallStatus)).to.deep.equal(['queued', 'ringing', 'in-progress', 'completed']);
    expect(statuses.at(-1)!.CallDuration).to.match(/^\d+$/);
  });

  it('cancels a ringing call on Status=completed and refuses to redirect a call that is not in progress', async () => {
    behaviour = { answer: 'human', ringMs: 5000 };
    const call = await create();
    try {
      await client.calls(call.sid).update({ twiml: '<Response><Hangup/></Response>' });
      expect.fail('redirected a ringing call');
    } catch (err) {
      expect((err as InstanceType<typeof twilio.RestException>).code).to.equal(21220);
    }
    await client.calls(call.sid).update({ status: 'completed' });
    expect(await rest.outboundCalls.get(call.sid)!.done).to.equal('canceled');
    await waitFor(() => received.some((r) => r.params.CallStatus === 'canceled'), {
      message: 'canceled status callback',
    });
  });
});
