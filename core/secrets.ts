import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const base62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** The random part of every key: 40 base62 characters, about 238 bits. */
const secretLength = 40;

/** Random base62 text, by rejection sampling so every character is equally likely. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 is the largest multiple of 62 below 256: bytes above it would bias the first characters.
      if (byte < 248 && out.length < length) {
        out += base62[byte % 62];
      }
    }
  }

  return out;
}

/** A new integration API key, `cm_live_…`. Shown once; only its hash is stored. */
export function generateApiKey(): string {
  return `cm_live_${randomBase62(secretLength)}`;
}

/** A new workspace admin key, `cm_admin_…`. Shown once; only its hash is stored. */
export function generateAdminKey(): string {
  return `cm_admin_${randomBase62(secretLength)}`;
}

/** The SHA-256 of a key as lowercase hex: the only form in which keys are stored. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * Whether a presented key matches a stored SHA-256 hex digest. Both sides are compared as 32-byte
 * digests with `timingSafeEqual`, so the time taken says nothing about how much of the key was right.
 */
export function secretMatchesHash(presented: string, storedHashHex: string): boolean {
  const presentedDigest = createHash('sha256').update(presented, 'utf8').digest();
  const storedDigest = Buffer.from(storedHashHex, 'hex');
  if (storedDigest.length !== presentedDigest.length) {
    return false;
  }

  return timingSafeEqual(presentedDigest, storedDigest);
}

/** A short, non-secret prefix of a key for display (`cm_live_a1b2…`). */
export function keyPreview(key: string): string {
  const separator = key.lastIndexOf('_');

  return `${key.slice(0, separator + 5)}…`;
}
