import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ConfigError } from '@voice/config';
import { CLIP_NAMES } from '@voice/media-link';
import { CLIP_FILE_EXTENSION, loadClips, toClip } from '../../src/clips.js';
import { DEFAULTS, loadGatewayConfig } from '../../src/config.js';
import { createMediaGateway } from '../../src/gateway.js';
import { PlayoutEstimate } from '../../src/session/playout-estimate.js';

const required = {
  PUBLIC_STREAM_URL: 'wss://voice.example.com/ws/twilio-media',
  TWILIO_AUTH_TOKEN: 'secret',
  MEDIA_LINK_SECRET: 'unit-test-media-link-secret',
};

describe('media gateway clips', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gateway-clips-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('ships a non-empty clip for every clip name (busy included), found from the module location by default', async () => {
    expect(CLIP_NAMES).to.include('busy');
    expect(loadGatewayConfig(required).clipsDir).to.equal(DEFAULTS.clipsDir);
    expect(DEFAULTS.clipsDir).to.match(/apps[/\\]media-gateway[/\\]assets[/\\]clips[/\\]?$/);
    for (const name of CLIP_NAMES) {
      const { size } = await stat(join(DEFAULTS.clipsDir, `${name}${CLIP_FILE_EXTENSION}`));
      // A second or more of speech, a few KB: not a stub.
      expect(size, name).to.be.within(8000, 64_000);
    }
    const clips = await loadClips(DEFAULTS.clipsDir, DEFAULTS.clipChunkMs);
    expect([...clips.keys()]).to.have.members([...CLIP_NAMES]);
  });

  it('reads CLIPS_DIR from the environment', () => {
    expect(loadGatewayConfig({ ...required, CLIPS_DIR: dir }).clipsDir).to.equal(dir);
  });

  it('cuts a clip into chunkMs media payloads that add up to the file, byte for byte', () => {
    const audio = Buffer.from(Array.from({ length: 2000 }, (_, i) => i % 251));
    const clip = toClip('hold', audio, 100);
    expect(clip.chunks.map((c) => c.bytes)).to.deep.equal([800, 800, 400]);
    expect(Buffer.concat(clip.chunks.map((c) => Buffer.from(c.payload, 'base64'))).equals(audio)).to.equal(true);
    expect(clip).to.include({ bytes: 2000, durationMs: 250 });
  });

  it('fails with a ConfigError naming CLIPS_DIR and the file when a clip is missing', async () => {
    await writeFile(join(dir, `hold${CLIP_FILE_EXTENSION}`), Buffer.alloc(160, 0x7f));
    const err = await loadClips(dir, 100).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(ConfigError);
    expect(err).to.have.property('variable', 'CLIPS_DIR');
    expect((err as Error).message)
      .to.include(`fallback${CLIP_FILE_EXTENSION}`)
      .and.include('render-clips');
  });

  it('fails with a ConfigError when a clip is empty', async () => {
    for (const name of CLIP_NAMES) await writeFile(join(dir, `${name}${CLIP_FILE_EXTENSION}`), Buffer.alloc(0));
    const err = await loadClips(dir, 100).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as Error).message).to.match(/is empty/);
  });

  it('keeps the gateway from starting (before it connects to anything) when the clips are missing', async () => {
    const gateway = createMediaGateway(
      loadGatewayConfig({ ...required, CLIPS_DIR: dir, GATEWAY_PORT: '0', LOG_LEVEL: 'silent' }),
    );
    const err = await gateway.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(ConfigError).with.property('variable', 'CLIPS_DIR');
    expect(gateway.ready).to.equal(false);
    expect(gateway.port).to.equal(0);
  });
});

describe('media gateway playout estimate', () => {
  it('queues audio behind what is still playing, and forgets it on clear', () => {
    const playout = new PlayoutEstimate();
    expect(playout.remainingMs(1000)).to.equal(0);
    playout.queued(800, 1000); // 100 ms
    playout.queued(800, 1000);
    expect(playout.remainingMs(1000)).to.equal(200);
    expect(playout.remainingMs(1150)).to.equal(50);
    // Sent after the queue drained: plays from now.
    playout.queued(1600, 2000);
    expect(playout.remainingMs(2000)).to.equal(200);
    playout.cleared(2050);
    expect(playout.remainingMs(2050)).to.equal(0);
  });
});
