// The floor of the two-process design: how much CPU the gateway + bridge shape costs against the
// one-process direct shape when each does nothing but move the audio, on this host.
//
//   node scripts/bench/floor.mjs [calls=50] [seconds=10]
//
// Bare-minimum versions of both shapes, about the bench's traffic (20 ms caller frames with spread
// phases; 100 ms model deltas at 5.4 a second per call, each followed by a mark the caller echoes):
//   direct:          caller ws -> [one process: JSON.parse, input_audio_buffer.append] -> TLS ws model
//   gateway+bridge:  caller ws -> [gateway: JSON.parse, one link line per frame, one write per loop
//                    turn] -> TCP link -> [bridge: append] -> TLS ws model, and the deltas back.
// No claims, Redis, Postgres, timelines, metrics, validation or set-up: what is left is the cost of
// the shape itself. Prints each process's CPU (cores) over the steady window and the ratio. The
// services' own figures are `npm run bench`; this says how far down they could go. `npm run bench`
// runs it once per round (scripts/bench/floor.ts) and reads the last line, printed as JSON when
// FLOOR_JSON=1.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import https from 'node:https';
import { WebSocket, WebSocketServer } from 'ws';
import { generate } from 'selfsigned';

const [, , callsArg = '50', secondsArg = '10', roleArg] = process.argv;
const CALLS = Number(callsArg);
const SECONDS = Number(secondsArg);
const FRAME_MS = 20;
const DELTA_EVERY_MS = 186;
const STREAM_SID = `MZ${'0'.repeat(32)}`;
const CALLER_PAYLOAD = Buffer.alloc(160, 0x7f).toString('base64');
const DELTA_PAYLOAD = Buffer.alloc(800, 0x7f).toString('base64');
const env = process.env;

/** Lines in, one callback per line; lines out, one socket write per event-loop turn. */
function lineLink(socket, onLine) {
  socket.setNoDelay(true);
  socket.setEncoding('utf8');
  let buffered = '';
  socket.on('data', (chunk) => {
    buffered += chunk;
    let end;
    while ((end = buffered.indexOf('\n')) >= 0) {
      onLine(buffered.slice(0, end));
      buffered = buffered.slice(end + 1);
    }
  });
  let pending = [];
  let scheduled = false;
  return (line) => {
    pending.push(line);
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      socket.write(pending.join(''));
      pending = [];
    });
  };
}

/** A caller-side socket: Twilio's media and mark messages both ways. */
function callerSide(ws, onMedia) {
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString('utf8'));
    if (message.event === 'media') onMedia(message.media.payload);
  });
  return (payload) => {
    ws.send(JSON.stringify({ event: 'media', streamSid: STREAM_SID, media: { payload } }));
    ws.send(JSON.stringify({ event: 'mark', streamSid: STREAM_SID, mark: { name: 'delta' } }));
  };
}

/** A model session over TLS: appends out, deltas in. */
function modelSide(onDelta) {
  const ws = new WebSocket(`wss://127.0.0.1:${env.MODEL_PORT}/`, { rejectUnauthorized: false });
  ws.on('message', (data) => {
    const event = JSON.parse(data.toString('utf8'));
    if (event.type === 'response.output_audio.delta') onDelta(event.delta);
  });
  const queued = [];
  ws.on('open', () => queued.splice(0).forEach((text) => ws.send(text)));
  return (audio) => {
    const text = JSON.stringify({ type: 'input_audio_buffer.append', audio });
    if (ws.readyState === WebSocket.OPEN) ws.send(text);
    else queued.push(text);
  };
}

const roles = {
  model() {
    const { key, cert } = JSON.parse(env.TLS);
    const server = https.createServer({ key, cert }).listen(Number(env.MODEL_PORT));
    new WebSocketServer({ server, perMessageDeflate: false }).on('connection', (ws) => {
      ws.on('message', (data) => JSON.parse(data.toString('utf8')));
      const delta = JSON.stringify({ type: 'response.output_audio.delta', delta: DELTA_PAYLOAD });
      setTimeout(() => setInterval(() => ws.send(delta), DELTA_EVERY_MS), Math.random() * DELTA_EVERY_MS);
    });
  },
  direct() {
    new WebSocketServer({ port: Number(env.IN_PORT), perMessageDeflate: false }).on('connection', (ws) => {
      const toCaller = callerSide(ws, (payload) => toModel(payload));
      const toModel = modelSide((delta) => toCaller(delta));
    });
  },
  gateway() {
    const callers = [];
    const toBridge = lineLink(net.connect(Number(env.LINK_PORT), '127.0.0.1'), (line) => {
      const space = line.indexOf(' ', 2);
      callers[Number(line.slice(2, space))]?.(line.slice(space + 1));
    });
    let next = 0;
    new WebSocketServer({ port: Number(env.IN_PORT), perMessageDeflate: false }).on('connection', (ws) => {
      const ch = next++;
      callers[ch] = callerSide(ws, (payload) => toBridge(`m ${ch} ${payload}\n`));
    });
  },
  bridge() {
    net
      .createServer((socket) => {
        const models = new Map();
        const toGateway = lineLink(socket, (line) => {
          const space = line.indexOf(' ', 2);
          const ch = line.slice(2, space);
          let toModel = models.get(ch);
          if (!toModel) {
            toModel = modelSide((delta) => toGateway(`a ${ch} ${delta}\n`));
            models.set(ch, toModel);
          }
          toModel(line.slice(space + 1));
        });
      })
      .listen(Number(env.LINK_PORT));
  },
  callers() {
    for (let i = 0; i < CALLS; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${env.IN_PORT}/`);
      ws.on('message', (data) => {
        const message = JSON.parse(data.toString('utf8'));
        if (message.event === 'mark')
          ws.send(JSON.stringify({ event: 'mark', streamSid: STREAM_SID, mark: message.mark }));
      });
      ws.on('open', () => {
        let seq = 0;
        const frame = () => {
          seq++;
          ws.send(
            JSON.stringify({
              event: 'media',
              sequenceNumber: String(seq + 1),
              media: {
                track: 'inbound',
                chunk: String(seq),
                timestamp: String(seq * FRAME_MS),
                payload: CALLER_PAYLOAD,
              },
              streamSid: STREAM_SID,
            }),
          );
        };
        setTimeout(() => setInterval(frame, FRAME_MS), (FRAME_MS * i) / CALLS);
      });
    }
  },
};

const TICKS_PER_SECOND = 100;
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the roles (each its own process), lets the calls settle, then measures the measured ones. */
async function measure(shape, roleNames, measured, ports) {
  const children = [];
  for (const role of roleNames) {
    children.push({ role, child: fork(process.argv[1], [callsArg, secondsArg, role], { env: { ...env, ...ports } }) });
    await sleep(300);
  }
  await sleep(3000);
  const watched = children.filter((c) => measured.includes(c.role));
  const before = watched.map((c) => cpuSeconds(c.child.pid));
  await sleep(SECONDS * 1000);
  const cores = watched.map((c, i) => (cpuSeconds(c.child.pid) - before[i]) / SECONDS);
  for (const c of children) c.child.kill();
  await sleep(500);
  const total = cores.reduce((a, b) => a + b, 0);
  console.log(
    `${shape.padEnd(16)} ${watched.map((c, i) => `${c.role} ${cores[i].toFixed(3)}`).join('  ')}  = ${total.toFixed(3)} cores`,
  );
  return total;
}

if (roleArg) {
  roles[roleArg]();
} else {
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], { keySize: 2048, days: 1 });
  const tls = JSON.stringify({ key: pems.private, cert: pems.cert });
  const base = 39300 + Math.floor(Math.random() * 500) * 3;
  const ports = (i) => ({
    TLS: tls,
    MODEL_PORT: String(base + i),
    IN_PORT: String(base + i + 1),
    LINK_PORT: String(base + i + 2),
  });
  console.log(`floor of the two shapes: ${CALLS} calls, ${SECONDS} s measured after 3 s, each role its own process`);
  const direct = await measure('direct', ['model', 'direct', 'callers'], ['direct'], ports(0));
  const split = await measure(
    'gateway+bridge',
    ['model', 'bridge', 'gateway', 'callers'],
    ['gateway', 'bridge'],
    ports(1500),
  );
  console.log(`ratio ${(split / direct).toFixed(2)}x`);
  if (env.FLOOR_JSON === '1')
    console.log(JSON.stringify({ calls: CALLS, seconds: SECONDS, directCores: direct, splitCores: split }));
}
