/** One handler per GA client event type. Anything else gets `unknown_event` and the session stays open. */
import { MIN_COMMIT_MS } from './constants.js';
import { realtimeErrors } from './errors.js';
import { newId } from './ids.js';
import { applySessionUpdate, isObject } from './session-config.js';
import type { JsonObject } from './session-config.js';
import type { DoubleSession } from './session.js';

type Handler = (session: DoubleSession, event: JsonObject, eventId: string | undefined) => void;

/** Client event names that exist only in the beta interface. */
const BETA_ONLY_EVENTS: readonly string[] = ['transcription_session.update'];
/** Response fields that exist only in the beta shape of `response.create`. */
const BETA_RESPONSE_KEYS: readonly string[] = ['modalities', 'voice', 'output_audio_format'];
const CREATABLE_ITEM_TYPES: readonly string[] = ['message', 'function_call', 'function_call_output'];

const HANDLERS: Readonly<Record<string, Handler>> = {
  'session.update': onSessionUpdate,
  'input_audio_buffer.append': onAppend,
  'input_audio_buffer.commit': onCommit,
  'input_audio_buffer.clear': onClear,
  'conversation.item.create': onItemCreate,
  'conversation.item.truncate': onItemTruncate,
  'conversation.item.delete': onItemDelete,
  'conversation.item.retrieve': onItemRetrieve,
  'response.create': onResponseCreate,
  'response.cancel': onResponseCancel,
};

export function handleClientEvent(session: DoubleSession, event: JsonObject): void {
  const type = String(event.type);
  const eventId = typeof event.event_id === 'string' ? event.event_id : undefined;
  if (BETA_ONLY_EVENTS.includes(type)) {
    session.refuseBeta(`beta event '${type}'`, eventId);
    return;
  }
  const handler = HANDLERS[type];
  if (handler) handler(session, event, eventId);
  else session.sendError(realtimeErrors.unknownEvent(type), eventId);
}

function onSessionUpdate(session: DoubleSession, event: JsonObject, eventId: string | undefined): void {
  const result = applySessionUpdate(session.config(), event.session);
  if (result.kind === 'beta') return session.refuseBeta(result.what, eventId);
  if (result.kind === 'error') return session.sendError(result.error, eventId);
  session.recorder.config = result.config;
  session.send({ type: 'session.updated', session: result.config });
  // The greeting usually follows at once: render it now if the instructions named one.
  session.prewarm(session.greetingText());
}

function onAppend(session: DoubleSession, event: JsonObject, eventId: string | undefined): void {
  if (typeof event.audio !== 'string') return session.sendError(realtimeErrors.missingParameter('audio'), eventId);
  const bytes = Buffer.from(event.audio, 'base64');
  session.onInputAudio(bytes);
  const input = session.config().audio.input;
  for (const turn of session.input.append(bytes, input.format, input.turn_detection)) session.onTurnEvent(turn);
}

function onCommit(session: DoubleSession, _event: JsonObject, eventId: string | undefined): void {
  const buffered = session.input.bufferedMs;
  if (buffered < MIN_COMMIT_MS) return session.sendError(realtimeErrors.commitEmpty(buffered, MIN_COMMIT_MS), eventId);
  session.input.resetSpeech();
  session.commitUserTurn(session.speechItemId ?? newId('item'), 'client');
}

function onClear(session: DoubleSession): void {
  session.input.clear();
  session.speechItemId = undefined;
  session.send({ type: 'input_audio_buffer.cleared' });
}

function onItemCreate(session: DoubleSession, event: JsonObject, eventId: string | undefined): void {
  const raw = event.item;
  if (!isObject(raw)) return session.sendError(realtimeErrors.missingParameter('item'), eventId);
  if (typeof raw.type !== 'string' || !CREATABLE_ITEM_TYPES.includes(raw.type)) {
    return session.sendError(
      realtimeErrors.invalidValue('item.type', `Invalid item type ${JSON.stringify(raw.type)}.`),
      eventId,
    );
  }
  if (raw.type === 'function_call_output') {
    if (typeof raw.call_id !== 'string')
      return session.sendError(realtimeErrors.missingParameter('item.call_id'), eventId);
    if (typeof raw.output !== 'string')
      return session.sendError(realtimeErrors.missingParameter('item.output'), eventId);
    session.recorder.functionCallOutputs.push({
      call_id: raw.call_id,
      output: raw.output,
      atMs: session.elapsedMs(),
      matchedCall: session.conversation.hasFunctionCall(raw.call_id),
    });
    session.toolOutputPending = true;
  }
  if (raw.type === 'message') {
    const text = messageText(raw.content);
    const role = typeof raw.role === 'string' ? raw.role : '';
    if (text !== undefined) session.recorder.textItems.push({ role, text, atMs: session.elapsedMs() });
    // The next response answers the latest user text, unless an assistant item (a replayed answer) followed it.
    if (text !== undefined && role === 'user') session.userTextPending = text;
    else if (role === 'assistant') session.userTextPending = undefined;
  }
  const item: JsonObject = {
    ...raw,
    id: typeof raw.id === 'string' ? raw.id : newId('item'),
    object: 'realtime.item',
    status: 'completed',
  };
  const { previousItemId } = session.conversation.add(item);
  const text = itemText(item);
  session.usage.addText(text.length);
  session.recorder.createdItems.push({
    type: String(item.type),
    role: typeof item.role === 'string' ? item.role : undefined,
    text,
    atMs: session.elapsedMs(),
  });
  session.send({ type: 'conversation.item.added', previous_item_id: previousItemId, item });
  session.send({ type: 'conversation.item.done', previous_item_id: previousItemId, item });
}

function onItemTruncate(session: DoubleSession, event: JsonObject, eventId: string | undefined): void {
  const { item_id: itemId, content_index: contentIndex, audio_end_ms: audioEndMs } = event;
  if (typeof itemId !== 'string') return session.sendError(realtimeErrors.missingParameter('item_id'), eventId);
  if (typeof audioEndMs !== 'number')
    return session.sendError(realtimeErrors.missingParameter('audio_end_ms'), eventId);
  if (contentIndex !== 0)
    return session.sendError(realtimeErrors.invalidValue('content_index', 'content_index must be 0.'), eventId);
  if (audioEndMs < 0 || !Number.isInteger(audioEndMs)) {
    return session.sendError(
      realtimeErrors.invalidValue('audio_end_ms', 'audio_end_ms must be a non-negative integer.'),
      eventId,
    );
  }
  const entry = session.conversation.get(itemId);
  if (!entry || entry.type !== 'message' || entry.role !== 'assistant') {
    return session.sendError(realtimeErrors.itemNotFound('item_id', itemId), eventId);
  }
  if (audioEndMs > entry.audioMs)
    return session.sendError(realtimeErrors.truncateTooLong(entry.audioMs, audioEndMs), eventId);
  entry.audioMs = audioEndMs;
  session.recorder.truncates.push({
    item_id: itemId,
    content_index: 0,
    audio_end_ms: audioEndMs,
    atMs: session.elapsedMs(),
  });
  session.send({ type: 'conversation.item.truncated', item_id: itemId, content_index: 0, audio_end_ms: audioEndMs });
}

function onItemDelete(session: DoubleSession, event: JsonObject, eventId: string | undefined): void {
  const itemId = String(event.item_id);
  if (!session.conversation.remove(itemId))
    return session.sendError(realtimeErrors.itemNotFound('item_id', itemId), eventId);
  session.send({ type: 'conversation.item.deleted', item_id: itemId });
}

function onItemRetrieve(session: DoubleSession, event: JsonObject, eventId: string | undefined): void {
  const itemId = String(event.item_id);
  const entry = session.conversation.get(itemId);
  if (!entry) return session.sendError(realtimeErrors.itemNotFound('item_id', itemId), eventId);
  session.send({ type: 'conversation.item.retrieved', item: entry.item });
}

function onResponseCreate(session: DoubleSession, event: JsonObject, eventId: string | undefined): void {
  const params = event.response;
  const betaKey = isObject(params) ? BETA_RESPONSE_KEYS.find((k) => k in params) : undefined;
  if (betaKey) return session.refuseBeta(`response.create with beta field '${betaKey}'`, eventId);
  if (session.behaviour().errorOnResponseCreate) return session.sendError(realtimeErrors.serverError(), eventId);
  const active = session.activeResponse;
  if (active) return session.sendError(realtimeErrors.activeResponse(active.id), eventId);
  session.startResponse('client');
}

function onResponseCancel(session: DoubleSession, _event: JsonObject, eventId: string | undefined): void {
  const active = session.activeResponse;
  if (!active) return session.sendError(realtimeErrors.cancelNotActive(), eventId);
  active.cancel('client_cancelled');
}

/** The words of a created item: message text parts, a function call's name and arguments, a tool output. */
function itemText(item: JsonObject): string {
  if (item.type === 'function_call') return `${String(item.name)}(${String(item.arguments ?? '')})`;
  if (item.type === 'function_call_output') return String(item.output ?? '');
  const content = Array.isArray(item.content) ? item.content : [];
  return content
    .map((part) => (isObject(part) && typeof part.text === 'string' ? part.text : ''))
    .join(' ')
    .trim();
}

/** The text of a message item's `input_text` / `output_text` parts, or undefined when it has none. */
function messageText(content: unknown): string | undefined {
  if (!Array.isArray(content)) return undefined;
  const texts = content.filter(isObject).map((part) => (typeof part.text === 'string' ? part.text : undefined));
  const found = texts.filter((t): t is string => t !== undefined);
  return found.length > 0 ? found.join(' ') : undefined;
}
