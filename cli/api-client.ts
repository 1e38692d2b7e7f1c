import { readFile } from 'node:fs/promises';
import { adminKeyFile } from '../core/bootstrap.js';

/** A failed management request, carrying the API's error message and code. */
export class ApiRequestError extends Error {
  override name = 'ApiRequestError';

  constructor(
    readonly status: number,
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export type ApiClient = {
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** The raw response, for streamed downloads. */
  fetch(method: string, path: string): Promise<Response>;
  baseUrl: string;
};

/**
 * The admin key for CLI requests: `CLOSERMODE_ADMIN_KEY`, else the key file the first start wrote.
 */
export async function resolveAdminKey(env: NodeJS.ProcessEnv, dataDir: string): Promise<string> {
  if (env.CLOSERMODE_ADMIN_KEY) {
    return env.CLOSERMODE_ADMIN_KEY.trim();
  }

  const file = adminKeyFile(dataDir);
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    throw new Error(
      `no admin key: set CLOSERMODE_ADMIN_KEY or start the service once so that ${file} exists`,
    );
  }
}

export function createApiClient(baseUrl: string, adminKey: string): ApiClient {
  const root = baseUrl.replace(/\/+$/, '');

  async function send(method: string, path: string, body?: unknown): Promise<Response> {
    try {
      return await fetch(`${root}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${adminKey}`,
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new Error(`cannot reach ${root}: ${(error as Error).cause ?? (error as Error).message}`);
    }
  }

  async function failure(response: Response): Promise<ApiRequestError> {
    const payload = (await response.json().catch(() => ({}))) as { error?: string; code?: string };

    return new ApiRequestError(
      response.status,
      payload.error ?? `HTTP ${response.status}`,
      payload.code,
    );
  }

  return {
    baseUrl: root,
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      const response = await send(method, path, body);
      if (!response.ok) {
        throw await failure(response);
      }

      return (response.status === 204 ? undefined : await response.json()) as T;
    },
    async fetch(method: string, path: string) {
      const response = await send(method, path);
      if (!response.ok) {
        throw await failure(response);
      }

      return response;
    },
  };
}
