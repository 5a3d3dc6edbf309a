/**
 * The Realtime double's connection surface through the real OpenAI SDK: TLS
 * with the shared certificate, the upgrade checks (key, path, beta shape), the
 * failure modes, session limits, and a clean stop with nothing left running.
 */
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { RealtimeDouble, connectRealtimeTestClient } from '../src/realtime-double/index.js';
import type { RealtimeDoubleBehaviour, RealtimeTestClient } from '../src/realtime-double/index.js';
import { loadOrCreateTlsCertificate } from '../src/tls/index.js';
import { waitFor } from '../src/wait-for.js';

const execFileAsync = promisify(execFile);
const API_KEY = 'sk-test-realtime-double';
/** Long enough to tell "delayed" from "immediate" on a loaded CI machine. */
const CONNECT_DELAY_MS = 300;
const CLOSE_AFTER_MS = 150;

/** Sockets and servers the process holds; timers are left out because mocha keeps its own. */
function networkHandleCount(): number {
  return process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP') || r === 'TLSWrap').length;
}

describe('RealtimeDouble connections (real OpenAI SDK)', function () {
  let double: RealtimeDouble;
  let clients: RealtimeTestClient[] = [];

  function connect(options: { apiKey?: string; headers?: Record<string, string> } = {}): RealtimeTestClient {
    const client = connectRealtimeTestClient(double, {
      apiKey: options.apiKey ?? API_KEY,
      headers: options.headers ?? {},
    });
    clients.push(client);
    return client;
  }

  async function restart(behaviour: Partial<RealtimeDoubleBehaviour>): Promise<void> {
    await double.stop();
    double = new RealtimeDouble({ apiKey: API_KEY, behaviour });
    await double.start();
  }

  beforeEach(async function () {
    double = new RealtimeDouble({ apiKey: API_KEY });
    await double.start();
  });

  afterEach(async function () {
    await Promise.all(clients.map((c) => c.close()));
    clients = [];
    await double.stop();
  });

  it('serves the SDK over TLS and records the session', async function () {
    expect(double.baseURL).to.match(/^https:\/\/127\.0\.0\.1:\d+\/v1$/);
    const client = connect();
    await client.opened;
    const created = await client.waitForEvent('session.created');
    expect(client.events[0]!.type).to.equal('session.created');
    expect(double.sessions).to.have.length(1);
    expect(double.sessions[0]!.id).to.equal((created.session as Record<string, unknown>).id);
    expect(double.sessions[0]!.model).to.equal('gpt-realtime');
    expect(double.openSessionCount).to.equal(1);
    expect(double.totalConnections).to.equal(1);
  });

  it('refuses a wrong API key with HTTP 401 and records no session', async function () {
    const client = connect({ apiKey: 'sk-wrong' });
    const failure = await client.opened.then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(failure?.message).to.equal('Unexpected server response: 401');
    await waitFor(() => client.errors.length > 0, { message: 'SDK error event' });
    expect(client.errors[0]!.message).to.contain('401');
    expect(double.sessions).to.have.length(0);
    expect(double.totalConnections).to.equal(1);
  });

  it('answers an unknown path with 404', async function () {
    const ws = new WebSocket(`${double.baseURL.replace('https', 'wss')}/not-realtime?model=gpt-realtime`, {
      ca: double.caCert,
      headers: { Authorization: `Bearer ${API_KEY}` },
    });
    const error = await new Promise<Error>((resolve) => ws.once('error', resolve));
    expect(error.message).to.equal('Unexpected server response: 404');
    expect(double.sessions).to.have.length(0);
  });

  it('refuses the beta header with beta_api_shape_disabled and close 4000', async function () {
    const client = connect({ headers: { 'OpenAI-Beta': 'realtime=v1' } });
    const closed = await client.closed;
    expect(closed.code).to.equal(4000);
    expect(client.events.map((e) => e.type)).to.deep.equal(['error']);
    expect(client.events[0]!.error).to.include({ code: 'beta_api_shape_disabled' });
    expect(double.sessions[0]!.closedWith).to.include({ code: 4000, by: 'server' });
  });

  it('refuses a beta-shaped session.update the same way', async function () {
    const client = connect();
    await client.waitForEvent('session.created');
    client.send({
      type: 'session.update',
      session: { modalities: ['audio', 'text'], input_audio_format: 'g711_ulaw' },
    });
    const closed = await client.closed;
    expect(closed.code).to.equal(4000);
    expect(client.eventsOfType('error')[0]!.error).to.include({ code: 'beta_api_shape_disabled' });
  });

  it('answers the upgrade with a configured 5xx, and recovers when the behaviour changes', async function () {
    double.setBehaviour({ rejectUpgradeStatus: 500 });
    const failing = connect();
    const error = await failing.opened.then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(error?.message).to.equal('Unexpected server response: 500');

    double.setBehaviour({ rejectUpgradeStatus: undefined });
    const healthy = connect();
    await healthy.waitForEvent('session.created');
    expect(double.totalConnections).to.equal(2);
    expect(double.sessions).to.have.length(1);
  });

  it('delays the upgrade by connectDelayMs', async function () {
    double.setBehaviour({ connectDelayMs: CONNECT_DELAY_MS });
    const startedAt = performance.now();
    const client = connect();
    await client.opened;
    expect(performance.now() - startedAt).to.be.at.least(CONNECT_DELAY_MS - 1);
  });

  it('can hang the upgrade; stop() still ends the attempt', async function () {
    double.setBehaviour({ hangUpgrade: true });
    const client = connect();
    await waitFor(() => double.totalConnections === 1, { message: 'upgrade request to arrive' });
    expect(client.rt.socket.readyState).to.equal(WebSocket.CONNECTING);
    await double.stop();
    const closed = await client.closed;
    expect(closed.code).to.equal(1006);
    expect(client.errors).to.have.length.greaterThan(0);
    expect(double.sessions).to.have.length(0);
  });

  it('can refuse connections outright', async function () {
    double.setBehaviour({ refuseConnections: true });
    const client = connect();
    await client.closed;
    expect(client.errors).to.have.length.greaterThan(0);
    expect(double.totalConnections).to.equal(1);
    expect(double.sessions).to.have.length(0);
  });

  it('closes an open session with 1011 after closeAfterMs', async function () {
    await restart({ closeAfterMs: CLOSE_AFTER_MS });
    const client = connect();
    await client.waitForEvent('session.created');
    const closed = await client.closed;
    expect(closed.code).to.equal(1011);
    const record = await double.sessions[0]!.waitForClose();
    expect(record.atMs).to.be.at.least(CLOSE_AFTER_MS - 1);
    await waitFor(() => double.openSessionCount === 0, { message: 'session to be released' });
  });

  it('ends a session at maxSessionMs with session_expired and close 1001', async function () {
    double.setBehaviour({ maxSessionMs: CLOSE_AFTER_MS });
    const client = connect();
    const closed = await client.closed;
    expect(closed.code).to.equal(1001);
    expect(client.eventsOfType('error')[0]!.error).to.include({ code: 'session_expired' });
  });

  it('stops cleanly: sessions closed with 1001, port released, no sockets left', async function () {
    await double.stop();
    const baseline = networkHandleCount();
    double = new RealtimeDouble({ apiKey: API_KEY });
    await double.start();
    const port = double.port;
    const a = connect();
    const b = connect();
    await Promise.all([a.waitForEvent('session.created'), b.waitForEvent('session.created')]);
    expect(double.openSessionCount).to.equal(2);

    await double.stop();
    expect((await a.closed).code).to.equal(1001);
    expect((await b.closed).code).to.equal(1001);
    expect(double.openSessionCount).to.equal(0);
    expect(double.sessions.every((s) => !s.isOpen)).to.equal(true);
    await waitFor(() => networkHandleCount() === baseline, { message: 'network handles back to baseline' });

    const probe = new WebSocket(`wss://127.0.0.1:${port}/v1/realtime?model=gpt-realtime`, { ca: double.caCert });
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => probe.once('error', resolve));
    expect(error.code).to.equal('ECONNREFUSED');
  });
});

describe('loadOrCreateTlsCertificate', function () {
  let dir: string;

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'realtime-double-tls-'));
  });

  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates one certificate for localhost and 127.0.0.1 and reuses it, even when callers race', async function () {
    const [first, second] = await Promise.all([loadOrCreateTlsCertificate(dir), loadOrCreateTlsCertificate(dir)]);
    const again = await loadOrCreateTlsCertificate(dir);
    expect(first!.cert).to.equal(second!.cert).and.to.equal(again.cert);
    expect(again.cert).to.equal(await readFile(join(dir, 'realtime-double.pem'), 'utf8'));
    expect(again.certPath).to.equal(join(dir, 'realtime-double.pem'));
    const x509 = new X509Certificate(again.cert);
    expect(x509.subjectAltName).to.contain('DNS:localhost').and.to.contain('IP Address:127.0.0.1');
    expect(x509.checkPrivateKey(createPrivateKey(again.key))).to.equal(true);
  });

  it('gives processes that start at the same time the same certificate', async function () {
    const moduleUrl = new URL('../src/tls/index.ts', import.meta.url).href;
    const script = `const { loadOrCreateTlsCertificate } = await import(${JSON.stringify(moduleUrl)});
      const c = await loadOrCreateTlsCertificate(${JSON.stringify(dir)});
      process.stdout.write(new (await import('node:crypto')).X509Certificate(c.cert).fingerprint256);`;
    const run = () =>
      execFileAsync(process.execPath, [
        '--conditions=source',
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        script,
      ]).then((r) => r.stdout);
    const fingerprints = await Promise.all([run(), run(), run()]);
    expect(new Set(fingerprints).size).to.equal(1);
    expect(fingerprints[0]).to.equal(
      new X509Certificate(await readFile(join(dir, 'realtime-double.pem'), 'utf8')).fingerprint256,
    );
  });
});
