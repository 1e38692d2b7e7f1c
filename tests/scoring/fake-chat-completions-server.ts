/**
 * A local stand-in for an OpenAI-compatible chat completions API, speaking its public contract:
 * `POST /v1/chat/completions` with `Authorization: Bearer <key>`, answering with a
 * `chat.completion` object. Each request takes the next scripted reply, so a test can line up
 * valid, malformed, truncated or schema-violating answers, HTTP errors and slow responses, and
 * then inspect every request the scorer made.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the server received, with its JSON body parsed. */
export type RecordedRequest = {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: ChatCompletionRequestBody;
};

export type ChatCompletionRequestBody = {
  model?: string;
  messages?: Array<{ role: string; content: string }>;
  response_format?: { type: string };
  [field: string]: unknown;
};

/** What the server answers one request with. */
export type ScriptedReply =
  | {
      kind: 'content';
      /** The assistant message, or a function of the request that builds it. */
      content: string | ((request: RecordedRequest) => string);
      finishReason?: 'stop' | 'length';
    }
  | { kind: 'status'; status: number; message?: string }
  | { kind: 'slow'; delayMs: number; then: ScriptedReply };

export type FakeChatCompletionsServer = {
  /** The API root to hand to the OpenAI SDK, ending in `/v1`. */
  baseUrl: string;
  /** Every request to the chat completions route, in arrival order. */
  requests: RecordedRequest[];
  /** Queues replies for the next requests, in order. */
  script(...replies: ScriptedReply[]): void;
  /** The reply used once the queue is empty; a 500 unless set. */
  setDefaultReply(reply: ScriptedReply): void;
  close(): Promise<void>;
};

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
  });
  response.end(payload);
}

function sendError(response: ServerResponse, status: number, message: string, type: string): void {
  sendJson(response, status, { error: { message, type, param: null, code: null } });
}

function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * Starts the server on 127.0.0.1 on a free port. With `apiKey`, requests whose bearer token
 * differs get the API's 401 error.
 */
export async function startFakeChatCompletionsServer(
  options: { apiKey?: string } = {},
): Promise<FakeChatCompletionsServer> {
  const requests: RecordedRequest[] = [];
  const queue: ScriptedReply[] = [];
  let defaultReply: ScriptedReply = { kind: 'status', status: 500, message: 'no reply scripted' };
  let completionCount = 0;
  // Pending slow replies are cancelled on close so a test run never waits for them.
  const timers = new Set<NodeJS.Timeout>();

  async function reply(
    response: ServerResponse,
    scripted: ScriptedReply,
    request: RecordedRequest,
  ): Promise<void> {
    if (scripted.kind === 'slow') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          resolve();
        }, scripted.delayMs);
        timers.add(timer);
      });
      if (response.destroyed) {
        return;
      }

      return reply(response, scripted.then, request);
    }
    if (scripted.kind === 'status') {
      sendError(response, scripted.status, scripted.message ?? 'scripted failure', 'server_error');
      return;
    }

    const content =
      typeof scripted.content === 'function' ? scripted.content(request) : scripted.content;
    const prompt = (request.body.messages ?? []).map((message) => message.content).join('\n');
    completionCount += 1;

    sendJson(response, 200, {
      id: `chatcmpl-fake-${completionCount}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: request.body.model ?? 'unknown',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content, refusal: null },
          logprobs: null,
          finish_reason: scripted.finishReason ?? 'stop',
        },
      ],
      usage: {
        prompt_tokens: estimateTokens(prompt),
        completion_tokens: estimateTokens(content),
        total_tokens: estimateTokens(prompt) + estimateTokens(content),
      },
    });
  }

  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const path = (incoming.url ?? '/').split('?')[0] ?? '/';
      if (incoming.method !== 'POST' || path !== '/v1/chat/completions') {
        sendError(
          response,
          404,
          `no route for ${incoming.method} ${path}`,
          'invalid_request_error',
        );
        return;
      }

      let body: ChatCompletionRequestBody;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatCompletionRequestBody;
      } catch {
        sendError(response, 400, 'request body is not valid JSON', 'invalid_request_error');
        return;
      }

      const request: RecordedRequest = {
        method: incoming.method,
        path,
        headers: incoming.headers,
        body,
      };
      requests.push(request);

      if (
        options.apiKey !== undefined &&
        incoming.headers.authorization !== `Bearer ${options.apiKey}`
      ) {
        sendError(response, 401, 'Incorrect API key provided.', 'invalid_request_error');
        return;
      }
      if (typeof body.model !== 'string' || !Array.isArray(body.messages)) {
        sendError(response, 400, 'model and messages are required', 'invalid_request_error');
        return;
      }

      void reply(response, queue.shift() ?? defaultReply, request);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    script: (...replies) => {
      queue.push(...replies);
    },
    setDefaultReply: (next) => {
      defaultReply = next;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        timers.forEach((timer) => clearTimeout(timer));
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
