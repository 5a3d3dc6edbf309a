/**
 * A self-signed TLS certificate for the local doubles. The OpenAI SDK forces
 * `wss://` for Realtime, so the Realtime double must speak TLS; every process
 * that talks to it (tests, services started as children) trusts this one file
 * via `NODE_EXTRA_CA_CERTS` or the SDK's `options: { ca }`. That only works if
 * all processes share the same certificate, so it is written once under the
 * repository's `.cache/tls/` and reused until it nears expiry.
 */
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from 'selfsigned';

export interface TlsCertificate {
  /** PEM certificate; also the trust anchor, since it signs itself. */
  cert: string;
  /** PEM private key. */
  key: string;
  /** Absolute path of the PEM certificate (what `NODE_EXTRA_CA_CERTS` points at). */
  certPath: string;
}

export class TlsCertificateError extends Error {
  override name = 'TlsCertificateError';
}

const CERT_FILE = 'realtime-double.pem';
const KEY_FILE = 'realtime-double.key';
const LOCK_FILE = 'realtime-double.lock';
/** Generating a 2048-bit key takes well under a second; a lock older than this was left by a crash. */
const LOCK_STALE_MS = 30_000;
const LOCK_POLL_MS = 50;
const LOCK_WAIT_MS = 60_000;
const CACHE_SUBDIR = path.join('.cache', 'tls');
const COMMON_NAME = 'localhost';
const VALIDITY_DAYS = 825;
/** Regenerate when fewer days than this remain, so a long test run never sees it expire. */
const RENEW_BEFORE_DAYS = 7;
const MS_PER_DAY = 24 * 60 * 60 * 1000;
const KEY_BITS = 2048;
const SIGNATURE_ALGORITHM = 'sha256';

/** `<repo root>/.cache/tls`, where the repo root is the nearest package.json with workspaces. */
export function defaultTlsDir(): string {
  return path.join(findRepoRoot(path.dirname(fileURLToPath(import.meta.url))), CACHE_SUBDIR);
}

/**
 * Returns the shared certificate in `dir` (default `<repo root>/.cache/tls`),
 * creating it on first use. Safe when several processes start at once: only
 * the holder of a lock file generates; the others wait for it and read the
 * pair it wrote. Each file is written to a temp name and renamed into place,
 * so a reader never sees half a file.
 */
export async function loadOrCreateTlsCertificate(dir: string = defaultTlsDir()): Promise<TlsCertificate> {
  const certPath = path.resolve(dir, CERT_FILE);
  const keyPath = path.resolve(dir, KEY_FILE);
  const lockPath = path.resolve(dir, LOCK_FILE);
  const deadline = Date.now() + LOCK_WAIT_MS;
  await mkdir(dir, { recursive: true });
  for (;;) {
    const existing = await readPair(certPath, keyPath);
    if (existing && isUsable(existing.cert, existing.key)) return { ...existing, certPath };
    const lock = await tryLock(lockPath);
    if (lock) {
      try {
        // Someone may have finished between our read and taking the lock.
        const again = await readPair(certPath, keyPath);
        if (again && isUsable(again.cert, again.key)) return { ...again, certPath };
        const fresh = await generateCertificate();
        const suffix = `${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
        await writeAtomically(keyPath, fresh.key, suffix, 0o600);
        await writeAtomically(certPath, fresh.cert, suffix, 0o644);
        return { ...fresh, certPath };
      } finally {
        await lock.release();
      }
    }
    if (Date.now() > deadline) {
      throw new TlsCertificateError(
        `timed out waiting for ${lockPath}; if no other process is creating the certificate, delete that file`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

/** Creates the lock file exclusively; a lock older than LOCK_STALE_MS (a crashed holder) is broken. */
async function tryLock(lockPath: string): Promise<{ release(): Promise<void> } | undefined> {
  try {
    const handle = await open(lockPath, 'wx');
    await handle.close();
    return { release: () => rm(lockPath, { force: true }) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const info = await stat(lockPath).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > LOCK_STALE_MS) await rm(lockPath, { force: true });
    return undefined;
  }
}

/**
 * A fresh certificate written to `dir`, valid also for `ipAddresses`: for a
 * double that listens on an address other than loopback (the smoke test's,
 * on the host's Docker bridge, for clients inside containers). Not shared,
 * not cached: its one user passes it to the double and to its clients.
 */
export async function createTlsCertificate(
  dir: string,
  { ipAddresses }: { ipAddresses: readonly string[] },
): Promise<TlsCertificate> {
  await mkdir(dir, { recursive: true });
  const fresh = await generateCertificate(ipAddresses);
  const certPath = path.resolve(dir, CERT_FILE);
  await writeFile(path.resolve(dir, KEY_FILE), fresh.key, { mode: 0o600 });
  await writeFile(certPath, fresh.cert, { mode: 0o644 });
  return { ...fresh, certPath };
}

async function generateCertificate(extraIps: readonly string[] = []): Promise<{ cert: string; key: string }> {
  const notBefore = new Date();
  const notAfter = new Date(notBefore.getTime() + VALIDITY_DAYS * MS_PER_DAY);
  const pems = await generate([{ name: 'commonName', value: COMMON_NAME }], {
    keySize: KEY_BITS,
    algorithm: SIGNATURE_ALGORITHM,
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
          ...extraIps.map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

async function readPair(certPath: string, keyPath: string): Promise<{ cert: string; key: string } | undefined> {
  try {
    const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
    return { cert, key };
  } catch {
    return undefined;
  }
}

/** True when the pair parses, belongs together and stays valid for a while yet. */
function isUsable(certPem: string, keyPem: string): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const renewAt = Date.parse(cert.validTo) - RENEW_BEFORE_DAYS * MS_PER_DAY;
    return Date.now() < renewAt && cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

async function writeAtomically(file: string, content: string, suffix: string, mode: number): Promise<void> {
  const temp = `${file}.${suffix}`;
  await writeFile(temp, content, { mode });
  await rename(temp, file);
}

function findRepoRoot(start: string): string {
  let dir = start;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { workspaces?: unknown };
        if (parsed.workspaces) return dir;
      } catch {
        // An unreadable package.json is not the root; keep walking up.
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new TlsCertificateError(
        `no workspace root (package.json with "workspaces") above ${start}; pass a directory to loadOrCreateTlsCertificate`,
      );
    dir = parent;
  }
}
