import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeKey } from './config.js';

/** Encrypts third-party credentials at rest (AES-256-GCM); only this process's key opens them. */
export type SecretBox = {
  seal(plaintext: string): string;
  /** Throws if the text was not sealed with this key or was altered. */
  open(sealed: string): string;
  /**
   * A token only holders of this key can make for `value`, under a key of its own for each
   * `purpose` (hex HMAC-SHA256), e.g. the header AssemblyAI sends back with a call's webhook.
   */
  sign(purpose: string, value: string): string;
  /** Whether `token` is `sign(purpose, value)`, compared in constant time. */
  verify(purpose: string, value: string, token: string): boolean;
};

const version = 'v1';

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) {
    throw new Error('a secret box key is 32 bytes');
  }

  const signingKeys = new Map<string, Buffer>();
  function signingKey(purpose: string): Buffer {
    let derived = signingKeys.get(purpose);
    if (!derived) {
      // Derived rather than the key itself, so a token never says anything about the sealing key.
      derived = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `closermode:${purpose}`, 32));
      signingKeys.set(purpose, derived);
    }

    return derived;
  }
  function sign(purpose: string, value: string): string {
    return createHmac('sha256', signingKey(purpose)).update(value).digest('hex');
  }

  return {
    sign,
    verify(purpose, value, token) {
      const expected = Buffer.from(sign(purpose, value));
      const given = Buffer.from(token);

      return given.length === expected.length && timingSafeEqual(given, expected);
    },
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);

      return `${version}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
    },
    open(sealed) {
      const [prefix, payload] = sealed.split(':', 2);
      if (prefix !== version || !payload) {
        throw new Error('not a sealed secret');
      }
      const bytes = Buffer.from(payload, 'base64');
      const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
      decipher.setAuthTag(bytes.subarray(12, 28));

      return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
    },
  };
}

/**
 * The key for stored secrets: `SECRETS_ENCRYPTION_KEY` when set, else one generated once and kept
 * in `<dataDir>/secrets-key` (mode 0600), which processes sharing the data folder share.
 */
export async function resolveSecretsKey(config: {
  secretsEncryptionKey: Buffer | undefined;
  dataDir: string;
}): Promise<Buffer> {
  if (config.secretsEncryptionKey) {
    return config.secretsEncryptionKey;
  }

  const file = path.join(config.dataDir, 'secrets-key');
  try {
    const existing = decodeKey((await readFile(file, 'utf8')).trim());
    if (existing) {
      return existing;
    }
  } catch {
    // Not there yet: made below.
  }

  const key = randomBytes(32);
  await mkdir(config.dataDir, { recursive: true });
  // `wx` fails if another process created the file first; that process's key then wins.
  try {
    await writeFile(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(file, 0o600);

    return key;
  } catch {
    return decodeKey((await readFile(file, 'utf8')).trim())!;
  }
}
