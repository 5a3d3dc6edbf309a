/**
 * Reads the TwiML a voice webhook answers into an ordered list of verbs, the
 * way Twilio executes them: top to bottom. Only the verbs a media-stream app
 * uses are understood; anything else is kept as `Unknown` so a test can see it.
 */
import { XMLParser } from 'fast-xml-parser';
import { CALLER_DEFAULTS } from './constants.js';

export interface StreamNoun {
  /** The `wss://` URL as written (Twilio strips any query string before connecting). */
  url: string;
  name?: string;
  track?: string;
  statusCallback?: string;
  statusCallbackMethod?: string;
  /** `<Parameter name value>` children, delivered in `start.customParameters`. */
  parameters: Record<string, string>;
}

export type TwimlVerb =
  | { verb: 'Say'; text: string; voice?: string }
  | { verb: 'Play'; url: string }
  | { verb: 'Pause'; lengthSeconds: number }
  | { verb: 'Hangup' }
  | { verb: 'Redirect'; url: string; method?: string }
  | { verb: 'Connect'; action?: string; stream?: StreamNoun }
  /** The number (or `<Number>`) dialled; the double records it and does not simulate the far end. */
  | { verb: 'Dial'; number: string }
  | { verb: 'Unknown'; name: string };

export class TwimlParseError extends Error {
  override name = 'TwimlParseError';
}

/** fast-xml-parser's preserve-order node: one key (the tag name or `#text`) plus `:@` for attributes. */
type OrderedNode = Record<string, unknown>;

const ATTRIBUTES_KEY = ':@';
const TEXT_KEY = '#text';

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  // Keep every value a string: `<Say>123</Say>` is text, not a number.
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: true,
});

export function parseTwiml(xml: string): TwimlVerb[] {
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch (err) {
    throw new TwimlParseError(`TwiML is not well-formed XML: ${(err as Error).message}`);
  }
  const response = asNodes(doc).find((node) => tagOf(node) === 'Response');
  if (!response) throw new TwimlParseError('TwiML has no <Response> root element');
  return childrenOf(response)
    .filter((node) => tagOf(node) !== TEXT_KEY)
    .map(readVerb);
}

function readVerb(node: OrderedNode): TwimlVerb {
  const tag = tagOf(node);
  const attrs = attributesOf(node);
  switch (tag) {
    case 'Say':
      return { verb: 'Say', text: textOf(node), ...(attrs.voice ? { voice: attrs.voice } : {}) };
    case 'Play':
      return { verb: 'Play', url: textOf(node) };
    case 'Pause': {
      const length = Number(attrs.length ?? CALLER_DEFAULTS.pauseSeconds);
      return { verb: 'Pause', lengthSeconds: Number.isFinite(length) ? length : CALLER_DEFAULTS.pauseSeconds };
    }
    case 'Hangup':
      return { verb: 'Hangup' };
    case 'Redirect':
      return { verb: 'Redirect', url: textOf(node), ...(attrs.method ? { method: attrs.method } : {}) };
    case 'Connect':
      return readConnect(node, attrs);
    case 'Dial':
      return { verb: 'Dial', number: textOf(node) };
    default:
      return { verb: 'Unknown', name: tag ?? '' };
  }
}

function readConnect(node: OrderedNode, attrs: Record<string, string>): TwimlVerb {
  const streamNode = childrenOf(node).find((child) => tagOf(child) === 'Stream');
  const verb: TwimlVerb = { verb: 'Connect', ...(attrs.action ? { action: attrs.action } : {}) };
  if (!streamNode) return verb;
  const s = attributesOf(streamNode);
  if (!s.url) throw new TwimlParseError('<Stream> needs a url attribute');
  const parameters: Record<string, string> = {};
  for (const child of childrenOf(streamNode)) {
    if (tagOf(child) !== 'Parameter') continue;
    const p = attributesOf(child);
    if (p.name !== undefined) parameters[p.name] = p.value ?? '';
  }
  const stream: StreamNoun = { url: s.url, parameters };
  if (s.name) stream.name = s.name;
  if (s.track) stream.track = s.track;
  if (s.statusCallback) stream.statusCallback = s.statusCallback;
  if (s.statusCallbackMethod) stream.statusCallbackMethod = s.statusCallbackMethod;
  return { ...verb, stream };
}

function asNodes(value: unknown): OrderedNode[] {
  return Array.isArray(value) ? (value.filter((v) => typeof v === 'object' && v !== null) as OrderedNode[]) : [];
}

function tagOf(node: OrderedNode): string | undefined {
  return Object.keys(node).find((key) => key !== ATTRIBUTES_KEY);
}

function childrenOf(node: OrderedNode): OrderedNode[] {
  const tag = tagOf(node);
  return tag === undefined ? [] : asNodes(node[tag]);
}

function attributesOf(node: OrderedNode): Record<string, string> {
  const attrs = node[ATTRIBUTES_KEY];
  return typeof attrs === 'object' && attrs !== null ? (attrs as Record<string, string>) : {};
}

/** Concatenated text of a node and its descendants (a `<Say>` may hold SSML tags). */
function textOf(node: OrderedNode): string {
  const parts: string[] = [];
  for (const child of childrenOf(node)) {
    const tag = tagOf(child);
    if (tag === TEXT_KEY) parts.push(String(child[TEXT_KEY]));
    else parts.push(textOf(child));
  }
  return parts.join(' ').replace(/\s+/g, ' ').trim();
}
