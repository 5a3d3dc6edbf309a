/**
 * The Realtime double's conversation behaviour through the real OpenAI SDK:
 * session config, spoken responses, input audio, server VAD, barge-in with
 * truncation, scripted function calls and the GA error codes.
 */
import { expect } from 'chai';
import { FRAME_BYTES, MULAW_SILENCE, mulawRms } from '@voice/protocols';
import { synthesizeMulaw } from '../src/audio/speech.js';
import { LONG_REPLY_TEXT, RealtimeDouble, connectRealtimeTestClient } from '../src/realtime-double/index.js';
import type {
  RealtimeDoubleBehaviour,
  RealtimeTestClient,
  RecordedSession,
  ServerEvent,
} from '../src/realtime-double/index.js';
import { waitFor } from '../src/wait-for.js';

const API_KEY = 'sk-test-realtime-double';
/** The double's rate: audio out is about 20 tokens a second, as the real API reports. */
const OUTPUT_AUDIO_MS_PER_TOKEN = 50;
const BYTES_PER_MS = 8;
const CALLER_SPEECH = 'I would like to book an appointment for Tuesday please.';
const GREETING = 'Thanks for calling Acme Dental, this is Ava.';
/** Speech must be well above digital silence once decoded. */
const MIN_SPEECH_RMS = 500;

const PCMU_VAD_SESSION = {
  type: 'realtime',
  output_modalities: ['audio'],
  instructions: `You are the receptionist.\nGreeting: ${GREETING}\nBe brief.`,
  audio: {
    input: {
      format: { type: 'audio/pcmu' },
      turn_detection: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 },
    },
    output: { format: { type: 'audio/pcmu' }, voice: 'alloy' },
  },
};

const BOOKING_TOOL = {
  type: 'function',
  name: 'book_appointment',
  description: 'Books an appointment',
  parameters: { type: 'object', properties: { day: { type: 'string' }, time: { type: 'string' } }, required: ['day'] },
};

const SEQUENCE_OF_A_SPOKEN_RESPONSE = [
  'response.created',
  'response.output_item.added',
  'conversation.item.added',
  'response.content_part.added',
  'response.output_audio.delta',
  'response.output_audio_transcript.delta',
  'response.output_audio.done',
  'response.output_audio_transcript.done',
  'response.content_part.done',
  'response.output_item.done',
  'conversation.item.done',
  'response.done',
  'rate_limits.updated',
];

function silence(ms: number): Buffer {
  return Buffer.alloc(ms * BYTES_PER_MS, MULAW_SILENCE);
}

/** Appends audio the way the bridge does: one 20 ms Twilio frame per event. */
function appendFrames(client: RealtimeTestClient, audio: Buffer): void {
  for (let i = 0; i < audio.length; i += FRAME_BYTES) {
    client.send({ type: 'input_audio_buffer.append', audio: audio.subarray(i, i + FRAME_BYTES).toString('base64') });
  }
}

function audioOf(deltas: ServerEvent[]): Buffer {
  return Buffer.concat(deltas.map((d) => Buffer.from(String(d.delta), 'base64')));
}

/** Each event type once, in order of first appearance: the sequence with the repeated deltas folded. */
function typeSequence(events: ServerEvent[]): string[] {
  return [...new Set(events.map((e) => e.type))];
}

describe('RealtimeDouble conversation (real OpenAI SDK)', function () {
  let double: RealtimeDouble;
  let clients: RealtimeTestClient[] = [];

  async function connect(
    behaviour: Partial<RealtimeDoubleBehaviour> = {},
  ): Promise<{ client: RealtimeTestClient; session: RecordedSession }> {
    double.setBehaviour(behaviour);
    const client = connectRealtimeTestClient(double, { apiKey: API_KEY });
    clients.push(client);
    await client.waitForEvent('session.created');
    const session = double.sessions.at(-1)!;
    return { client, session };
  }

  async function configure(client: RealtimeTestClient, session: object = PCMU_VAD_SESSION): Promise<void> {
    client.send({ type: 'session.update', session });
    await client.waitForEvent('session.updated');
  }

  before(async function () {
    // Render the caller's phrase once up front so no single test pays for synthesis.
    await synthesizeMulaw(CALLER_SPEECH);
  });

  beforeEach(async function () {
    double = new RealtimeDouble({ apiKey: API_KEY });
    await double.start();
  });

  afterEach(async function () {
    await Promise.all(clients.map((c) => c.close()));
    clients = [];
    await double.stop();
  });

  it('announces a GA session and merges session.update into session.updated', async function () {
    const { client, session } = await connect();
    const created = client.eventsOfType('session.created')[0]!;
    const initial = created.session as Record<string, any>;
    expect(initial.type).to.equal('realtime');
    expect(initial.model).to.equal('gpt-realtime');
    expect(initial.output_modalities).to.deep.equal(['audio']);
    expect(initial.audio.input.format.type).to.equal('audio/pcm');

    await configure(client);
    const updated = client.eventsOfType('session.updated')[0]!.session as Record<string, any>;
    expect(updated.audio.input.format).to.deep.equal({ type: 'audio/pcmu' });
    expect(updated.audio.output.format).to.deep.equal({ type: 'audio/pcmu' });
    expect(updated.audio.output.voice).to.equal('alloy');
    // Fields the update did not name keep their defaults.
    expect(updated.audio.input.turn_detection).to.include({
      type: 'server_vad',
      create_response: true,
      interrupt_response: true,
    });
    expect(updated.tool_choice).to.equal('auto');
    expect(session.config.instructions).to.contain(GREETING);
    expect(session.headers.authorization).to.equal(`Bearer ${API_KEY}`);
  });

  it('speaks the greeting named in the instructions as audible pcmu audio, with the full event sequence', async function () {
    const { client, session } = await connect();
    await configure(client);
    client.send({ type: 'response.create' });
    const done = await client.waitForEvent('response.done');
    await client.waitForEvent('rate_limits.updated');

    const response = done.response as Record<string, any>;
    expect(response.status).to.equal('completed');
    expect(response.usage.total_tokens).to.be.greaterThan(0);
    const fromCreated = client.events.slice(client.events.findIndex((e) => e.type === 'response.created'));
    expect(typeSequence(fromCreated)).to.deep.equal(SEQUENCE_OF_A_SPOKEN_RESPONSE);
    // Every audio delta precedes output_audio.done.
    expect(fromCreated.findLastIndex((e) => e.type === 'response.output_audio.delta')).to.be.lessThan(
      fromCreated.findIndex((e) => e.type === 'response.output_audio.done'),
    );

    const deltas = client.eventsOfType('response.output_audio.delta');
    const audio = audioOf(deltas);
    expect(mulawRms(audio)).to.be.greaterThan(MIN_SPEECH_RMS);
    expect(deltas[0]).to.include({ response_id: response.id, output_index: 0, content_index: 0 });
    expect(client.eventsOfType('response.output_audio_transcript.done')[0]!.transcript).to.equal(GREETING);
    const transcript = client
      .eventsOfType('response.output_audio_transcript.delta')
      .map((d) => d.delta)
      .join('');
    expect(transcript).to.equal(GREETING);

    const recorded = session.responses[0]!;
    expect(recorded).to.include({ status: 'completed', kind: 'audio', trigger: 'client', text: GREETING });
    expect(recorded.audioMsSent).to.equal(audio.length / BYTES_PER_MS);
  });

  it('records appended audio byte for byte and enforces the 100 ms commit minimum', async function () {
    const { client, session } = await connect();
    await configure(client, {
      ...PCMU_VAD_SESSION,
      audio: { input: { format: { type: 'audio/pcmu' }, turn_detection: null } },
    });
    const sent = Buffer.from(Array.from({ length: 50 * BYTES_PER_MS }, (_, i) => (i * 37 + 11) % 256));
    appendFrames(client, sent);
    client.send({ type: 'input_audio_buffer.commit' });
    const tooShort = await client.waitForEvent('error');
    expect((tooShort.error as Record<string, unknown>).code).to.equal('input_audio_buffer_commit_empty');

    appendFrames(client, sent);
    appendFrames(client, sent);
    client.send({ type: 'input_audio_buffer.commit' });
    const committed = await client.waitForEvent('input_audio_buffer.committed');
    expect(session.inputAudio().equals(Buffer.concat([sent, sent, sent]))).to.equal(true);
    expect(session.userTurns).to.deep.equal([
      { item_id: committed.item_id, audio_start_ms: 0, audio_end_ms: 150, committedBy: 'client' },
    ]);
    // Without turn detection a commit does not start a response.
    expect(client.eventsOfType('response.created')).to.have.length(0);
  });

  it('detects a spoken turn with server VAD and answers automatically', async function () {
    // A scripted call for a tool the session never declared must not happen.
    const { client, session } = await connect({
      functionCalls: [{ onTurn: 1, name: 'undeclared_tool', arguments: {} }],
    });
    const input = { ...PCMU_VAD_SESSION.audio.input, transcription: { model: 'gpt-4o-mini-transcribe' } };
    await configure(client, { ...PCMU_VAD_SESSION, audio: { ...PCMU_VAD_SESSION.audio, input } });
    const speech = await synthesizeMulaw(CALLER_SPEECH);
    appendFrames(client, Buffer.concat([silence(500), speech, silence(1000)]));

    const started = await client.waitForEvent('input_audio_buffer.speech_started');
    const stopped = await client.waitForEvent('input_audio_buffer.speech_stopped');
    const committed = await client.waitForEvent('input_audio_buffer.committed');
    // Speech begins at 500 ms; the start includes the 300 ms prefix padding.
    expect(started.audio_start_ms).to.equal(200);
    const speechEndMs = 500 + speech.length / BYTES_PER_MS;
    expect(stopped.audio_end_ms).to.be.within(speechEndMs, speechEndMs + 500);
    expect(committed.item_id).to.equal(started.item_id).and.to.equal(stopped.item_id);

    const done = await client.waitForEvent('response.done');
    expect((done.response as Record<string, unknown>).status).to.equal('completed');
    expect(session.responses[0]).to.include({ trigger: 'server_vad', kind: 'audio' });
    const transcription = await client.waitForEvent('conversation.item.input_audio_transcription.completed');
    expect(transcription.item_id).to.equal(committed.item_id);
    expect(session.userTurns).to.have.length(1);
    expect(session.userTurns[0]).to.include({ item_id: committed.item_id, committedBy: 'server_vad' });
  });

  it('cancels a long response when the caller barges in, and validates truncates against the audio sent', async function () {
    const { client, session } = await connect({ greetingText: LONG_REPLY_TEXT });
    await configure(client);
    client.send({ type: 'response.create' });
    const firstDelta = await client.waitForEvent('response.output_audio.delta');
    const itemId = String(firstDelta.item_id);

    appendFrames(client, await synthesizeMulaw(CALLER_SPEECH));
    await client.waitForEvent('input_audio_buffer.speech_started');
    const done = await client.waitForEvent('response.done');
    const response = done.response as Record<string, any>;
    expect(response.status).to.equal('cancelled');
    expect(response.status_details).to.deep.equal({ type: 'cancelled', reason: 'turn_detected' });
    expect(client.eventsOfType('response.output_audio.done')).to.have.length(0);
    const sentMs = session.responses[0]!.audioMsSent;
    const fullMs = (await synthesizeMulaw(LONG_REPLY_TEXT)).length / BYTES_PER_MS;
    expect(sentMs).to.be.greaterThan(0).and.lessThan(fullMs);

    const heardMs = Math.floor(sentMs / 2);
    client.send({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: heardMs });
    const truncated = await client.waitForEvent('conversation.item.truncated');
    expect(truncated).to.include({ item_id: itemId, audio_end_ms: heardMs });

    client.send({
      type: 'conversation.item.truncate',
      item_id: itemId,
      content_index: 0,
      audio_end_ms: Math.ceil(sentMs) + 1000,
    });
    const error = await client.waitForEvent('error');
    expect(error.error).to.include({ type: 'invalid_request_error', param: 'audio_end_ms' });
    expect(String((error.error as Record<string, unknown>).message)).to.match(/already shorter than/);
    expect(session.truncates.map((t) => ({ item_id: t.item_id, audio_end_ms: t.audio_end_ms }))).to.deep.equal([
      { item_id: itemId, audio_end_ms: heardMs },
    ]);
  });

  it('runs a scripted function call round trip and records the tool output', async function () {
    const { client, session } = await connect({
      functionCalls: [{ onTurn: 1, name: 'book_appointment', arguments: { day: 'Tuesday', time: '10:00' } }],
      replyAfterToolText: 'You are booked for Tuesday at ten.',
    });
    await configure(client, { ...PCMU_VAD_SESSION, tools: [BOOKING_TOOL], tool_choice: 'auto' });
    client.send({ type: 'response.create' });
    await client.waitForEvent('response.done');

    appendFrames(client, Buffer.concat([await synthesizeMulaw(CALLER_SPEECH), silence(800)]));
    const call = await client.waitForEvent('response.function_call_arguments.done');
    expect(call.name).to.equal('book_appointment');
    expect(JSON.parse(String(call.arguments))).to.deep.equal({ day: 'Tuesday', time: '10:00' });
    const callDone = await client.waitForEvent('response.done', { nth: 2 });
    const output = (callDone.response as Record<string, any>).output[0];
    expect(output).to.include({ type: 'function_call', call_id: call.call_id, status: 'completed' });
    const streamed = client
      .eventsOfType('response.function_call_arguments.delta')
      .map((d) => d.delta)
      .join('');
    expect(streamed).to.equal(call.arguments);

    client.send({
      type: 'conversation.item.create',
      item: { type: 'function_call_output', call_id: call.call_id, output: '{"ok":true}' },
    });
    await client.waitForEvent('conversation.item.done', { nth: 4 });
    client.send({ type: 'response.create' });
    await client.waitForEvent('response.done', { nth: 3 });
    expect(client.eventsOfType('response.output_audio_transcript.done').at(-1)!.transcript).to.equal(
      'You are booked for Tuesday at ten.',
    );
    expect(session.functionCallOutputs).to.have.length(1);
    expect(session.functionCallOutputs[0]).to.include({
      call_id: call.call_id,
      output: '{"ok":true}',
      matchedCall: true,
    });
    expect(session.responses.map((r) => r.kind)).to.deep.equal(['audio', 'function_call', 'audio']);
  });

  it('speaks and calls a function in one response (sayFirst): an audio item, then the function call item', async function () {
    const { client, session } = await connect({
      functionCalls: [{ onTurn: 1, name: 'end_call', arguments: {}, sayFirst: 'Goodbye then.' }],
    });
    await configure(client, {
      ...PCMU_VAD_SESSION,
      tools: [{ ...BOOKING_TOOL, name: 'end_call' }],
      tool_choice: 'auto',
    });
    client.send({ type: 'response.create' });
    await client.waitForEvent('response.done');

    appendFrames(client, Buffer.concat([await synthesizeMulaw(CALLER_SPEECH), silence(800)]));
    const call = await client.waitForEvent('response.function_call_arguments.done');
    const done = await client.waitForEvent('response.done', { nth: 2 });
    const output = (done.response as Record<string, any>).output as Array<Record<string, unknown>>;
    expect(output.map((o) => o.type)).to.deep.equal(['message', 'function_call']);
    expect(output[1]).to.include({ call_id: call.call_id, name: 'end_call' });
    expect(call.output_index).to.equal(1);
    const deltas = client.eventsOfType('response.output_audio.delta').filter((d) => d.response_id === call.response_id);
    expect(deltas.length, 'the words come before the call, in the same response').to.be.greaterThan(0);
    expect(session.responses[1]).to.include({ kind: 'audio', text: 'Goodbye then.' });
    expect(session.responses[1]!.functionCall?.name).to.equal('end_call');
  });

  it('answers a user text item with replyAfterUserText, or a scripted call on that text, and records the item', async function () {
    const { client, session } = await connect({
      replyAfterUserText: 'You pressed one.',
      functionCalls: [{ onTurn: 0, onUserText: 'pressed 0', name: 'book_appointment', arguments: { day: 'Monday' } }],
    });
    await configure(client, { ...PCMU_VAD_SESSION, tools: [BOOKING_TOOL], tool_choice: 'auto' });
    const userText = (text: string) => ({
      type: 'conversation.item.create',
      item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] },
    });
    client.send(userText('The caller pressed 1 on the keypad.'));
    client.send({ type: 'response.create' });
    await client.waitForEvent('response.done');
    client.send(userText('The caller pressed 0 on the keypad.'));
    client.send({ type: 'response.create' });
    await client.waitForEvent('response.done', { nth: 2 });
    expect(session.responses.map((r) => r.text)).to.deep.equal(['You pressed one.', '']);
    expect(session.responses[1]!.functionCall?.name).to.equal('book_appointment');
    expect(session.textItems.map((i) => i.text)).to.deep.equal([
      'The caller pressed 1 on the keypad.',
      'The caller pressed 0 on the keypad.',
    ]);
  });

  it('answers misuse with the GA error codes and keeps the session open', async function () {
    const { client, session } = await connect({ greetingText: LONG_REPLY_TEXT });
    await configure(client);
    const codeOf = async (nth: number) =>
      ((await client.waitForEvent('error', { nth })).error as Record<string, unknown>).code;

    client.send({ type: 'response.cancel' });
    expect(await codeOf(1)).to.equal('response_cancel_not_active');
    client.send({ type: 'response.create' });
    client.send({ type: 'response.create' });
    expect(await codeOf(2)).to.equal('conversation_already_has_active_response');
    client.send({ type: 'response.cancel' });
    const cancelled = await client.waitForEvent('response.done');
    expect((cancelled.response as Record<string, any>).status_details).to.deep.equal({
      type: 'cancelled',
      reason: 'client_cancelled',
    });
    client.send({ type: 'response.audio.delta', delta: '' });
    const unknown = await client.waitForEvent('error', { nth: 3 });
    expect(unknown.error).to.include({ type: 'invalid_request_error', code: 'unknown_event' });
    client.send({ type: 'conversation.item.truncate', item_id: 'item_missing', content_index: 0, audio_end_ms: 0 });
    expect(await codeOf(4)).to.equal('invalid_value');

    double.setBehaviour({ errorOnResponseCreate: true });
    client.send({ type: 'response.create' });
    const serverError = await client.waitForEvent('error', { nth: 5 });
    expect(serverError.error).to.include({ type: 'server_error' });
    expect(session.isOpen).to.equal(true);
    expect(session.errors.map((e) => e.code)).to.deep.equal([
      'response_cancel_not_active',
      'conversation_already_has_active_response',
      'unknown_event',
      'invalid_value',
      'server_error',
    ]);
    // The SDK surfaces every error event on 'error' with the server payload attached.
    await waitFor(() => client.errors.length === 5, { message: 'five SDK errors' });
  });

  it('closes the session after the configured number of completed responses', async function () {
    const { client, session } = await connect({ closeAfterResponses: 1 });
    await configure(client);
    client.send({ type: 'response.create' });
    const closed = await client.closed;
    expect(closed.code).to.equal(1011);
    expect(session.closedWith).to.include({ code: 1011, by: 'server' });
    expect(client.eventsOfType('response.done')).to.have.length(1);
  });
  it('bills each response for the whole context, with what the previous response read reported as cached', async function () {
    const { client } = await connect({ replies: ['Sure.'] });
    await configure(client);
    client.send({ type: 'response.create' });
    const first = (await client.waitForEvent('response.done')).response as Record<string, any>;
    appendFrames(client, Buffer.concat([silence(300), await synthesizeMulaw(CALLER_SPEECH), silence(800)]));
    const second = (await client.waitForEvent('response.done', { nth: 2 })).response as Record<string, any>;

    const u1 = first.usage;
    const u2 = second.usage;
    expect(u1.input_token_details.cached_tokens, 'nothing cached on the first response').to.equal(0);
    // Audio tokens follow duration: the greeting's audio at 20 tokens/s out, the caller's at 10 tokens/s in.
    const greetingMs =
      audioOf(client.eventsOfType('response.output_audio.delta').filter((d) => d.response_id === first.id)).length /
      BYTES_PER_MS;
    expect(u1.output_token_details.audio_tokens).to.equal(Math.ceil(greetingMs / OUTPUT_AUDIO_MS_PER_TOKEN));
    expect(u2.input_token_details.audio_tokens, 'the caller turn and the greeting read back').to.be.greaterThan(
      u1.output_token_details.audio_tokens,
    );
    expect(u2.input_token_details.cached_tokens, "the first response's input is cached").to.equal(u1.input_tokens);
    expect(u2.input_token_details.cached_tokens_details).to.deep.include({
      text_tokens: u1.input_token_details.text_tokens,
    });
    expect(u2.input_tokens).to.equal(u2.input_token_details.text_tokens + u2.input_token_details.audio_tokens);
    expect(u2.total_tokens).to.equal(u2.input_tokens + u2.output_tokens);
  });

  it('continues a replayed conversation: no second greeting, scripted transcripts go on, the items are recorded', async function () {
    const { client, session } = await connect({
      replies: ['Tuesday it is.'],
      inputTranscripts: ['My name is Ada.', 'Tuesday please.'],
    });
    const input = { ...PCMU_VAD_SESSION.audio.input, transcription: { model: 'gpt-4o-mini-transcribe' } };
    await configure(client, { ...PCMU_VAD_SESSION, audio: { ...PCMU_VAD_SESSION.audio, input } });
    // What a bridge replays into a new session: the earlier turns as text items.
    client.send({
      type: 'conversation.item.create',
      item: { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: GREETING }] },
    });
    client.send({
      type: 'conversation.item.create',
      item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'My name is Ada.' }] },
    });
    appendFrames(client, Buffer.concat([silence(300), await synthesizeMulaw(CALLER_SPEECH), silence(800)]));

    const transcription = await client.waitForEvent('conversation.item.input_audio_transcription.completed');
    expect(transcription.transcript, 'the second turn of the conversation').to.equal('Tuesday please.');
    await client.waitForEvent('response.done');
    expect(
      session.responses.map((r) => r.text),
      'no second greeting',
    ).to.deep.equal(['Tuesday it is.']);
    expect(session.createdItems.map((i) => [i.role, i.text])).to.deep.equal([
      ['assistant', GREETING],
      ['user', 'My name is Ada.'],
    ]);
  });
});
