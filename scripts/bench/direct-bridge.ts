/**
 * The baseline the bench measures the Redis design against: one process holding
 * both sockets, the shape of Twilio's public sample (speech-assistant-openai-
 * realtime-api-node), on express + ws and the real `openai` SDK.
 *
 * - POST /incoming-call answers TwiML <Connect><Stream url=".../media-stream">;
 * - each media-stream socket opens a Realtime session at once (before START,
 *   as the sample does), configures it (audio/pcmu both ways, server VAD), asks
 *   for a greeting once START has come, and forwards audio both ways: caller
 *   frames to `input_audio_buffer.append`, deltas to Twilio with a mark each;
 * - barge-in as in the sample: on speech_started, clear and truncate.
 * One deliberate difference: caller frames that arrive before the model socket
 * is open are queued, not dropped, so frame loss compares like with like.
 *
 * Env: DIRECT_BRIDGE_PORT, PUBLIC_STREAM_URL (wss://…/media-stream), OPENAI_API_KEY,
 * OPENAI_BASE_URL, OPENAI_REALTIME_MODEL; trust a local double with NODE_EXTRA_CA_CERTS.
 */
import { createServer } from 'node:http';
import express from 'express';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

const DEFAULT_MODEL = 'gpt-realtime';
const MEDIA_PATH = '/media-stream';
const VOICE = 'alloy';
const INSTRUCTIONS = 'You are a helpful receptionist. Greet the caller briefly, then help them.';
const SERVER_VAD = {
  type: 'server_vad',
  threshold: 0.5,
  prefix_padding_ms: 300,
  silence_duration_ms: 500,
  create_response: true,
  interrupt_response: true,
} as const;
const NORMAL_CLOSE = 1000;

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

const port = Number(requireEnv('DIRECT_BRIDGE_PORT'));
const streamUrl = requireEnv('PUBLIC_STREAM_URL');
const model = process.env.OPENAI_REALTIME_MODEL || DEFAULT_MODEL;
const openai = new OpenAI({
  apiKey: requireEnv('OPENAI_API_KEY'),
  baseURL: requireEnv('OPENAI_BASE_URL'),
  maxRetries: 0,
});

const app = express();
app.get('/readyz', (_req, res) => {
  res.send('ok');
});
app.post('/incoming-call', (_req, res) => {
  res
    .type('text/xml')
    .send(
      `<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="${streamUrl}" /></Connect></Response>`,
    );
});

const server = createServer(app);
const wss = new WebSocketServer({ server, path: MEDIA_PATH });
wss.on('connection', (twilio) => bridgeCall(twilio));

interface TwilioMessage {
  event: string;
  start?: { streamSid: string };
  media?: { payload: string; timestamp: string };
}

function bridgeCall(twilio: WebSocket): void {
  const rt = new OpenAIRealtimeWS({ model }, openai);
  let streamSid: string | undefined;
  let open = false;
  let greeted = false;
  let pending: string[] = [];
  let lastAssistantItem: string | undefined;
  let responseStartMs: number | undefined;
  let latestMediaMs = 0;
  const markQueue: string[] = [];

  const greet = () => {
    if (greeted || !open || streamSid === undefined) return;
    greeted = true;
    rt.send({ type: 'response.create' });
  };

  rt.socket.on('open', () => {
    open = true;
    rt.send({
      type: 'session.update',
      session: {
        type: 'realtime',
        output_modalities: ['audio'],
        instructions: INSTRUCTIONS,
        audio: {
          input: { format: { type: 'audio/pcmu' }, turn_detection: SERVER_VAD },
          output: { format: { type: 'audio/pcmu' }, voice: VOICE },
        },
      },
    });
    for (const audio of pending) rt.send({ type: 'input_audio_buffer.append', audio });
    pending = [];
    greet();
  });
  rt.on('error', (err) =>
    console.error(JSON.stringify({ level: 'warn', message: 'realtime error', error: err.message })),
  );
  rt.socket.on('close', () => {
    if (twilio.readyState === twilio.OPEN) twilio.close(NORMAL_CLOSE);
  });

  rt.on('event', (event: RealtimeServerEvent) => {
    if (event.type === 'response.output_audio.delta' && streamSid !== undefined) {
      twilio.send(JSON.stringify({ event: 'media', streamSid, media: { payload: event.delta } }));
      if (responseStartMs === undefined) responseStartMs = latestMediaMs;
      if (event.item_id) lastAssistantItem = event.item_id;
      twilio.send(JSON.stringify({ event: 'mark', streamSid, mark: { name: 'responsePart' } }));
      markQueue.push('responsePart');
    } else if (
      event.type === 'input_audio_buffer.speech_started' &&
      markQueue.length > 0 &&
      lastAssistantItem &&
      responseStartMs !== undefined
    ) {
      const elapsed = Math.max(0, latestMediaMs - responseStartMs);
      rt.send({
        type: 'conversation.item.truncate',
        item_id: lastAssistantItem,
        content_index: 0,
        audio_end_ms: elapsed,
      });
      twilio.send(JSON.stringify({ event: 'clear', streamSid }));
      markQueue.length = 0;
      lastAssistantItem = undefined;
      responseStartMs = undefined;
    }
  });

  twilio.on('message', (data: RawData) => {
    const message = JSON.parse(data.toString()) as TwilioMessage;
    switch (message.event) {
      case 'start':
        streamSid = message.start?.streamSid;
        greet();
        return;
      case 'media': {
        const media = message.media!;
        latestMediaMs = Number(media.timestamp);
        if (open) rt.send({ type: 'input_audio_buffer.append', audio: media.payload });
        else pending.push(media.payload);
        return;
      }
      case 'mark':
        markQueue.shift();
        return;
      case 'stop':
        rt.close();
        return;
    }
  });
  twilio.on('close', () => {
    if (rt.socket.readyState === rt.socket.OPEN || rt.socket.readyState === rt.socket.CONNECTING) rt.close();
  });
}

server.listen(port, '127.0.0.1');

process.once('SIGTERM', () => {
  for (const client of wss.clients) client.terminate();
  wss.close();
  server.close(() => process.exit(0));
});
