/**
 * Outbound webhook delivery: one signed HTTP attempt per activity call. The workflow owns the
 * retry schedule; these activities only try once, log what happened and keep the endpoint's state.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Webhook } from 'standardwebhooks';
import { AddressRefusedError, type AddressPolicy } from '../core/net/address-policy.js';
import type { SecretBox } from '../core/secret-box.js';
import type { Database } from '../db/database.js';
import {
  findAttemptContext,
  findDelivery,
  recordAttempt,
  settlePendingDelivery,
} from '../db/queries/events.js';
import {
  disableEndpoint,
  markEndpointFailed,
  markEndpointSucceeded,
} from '../db/queries/webhook-endpoints.js';
import type { DeliveryAttemptTrigger, WebhookEndpoint } from '../db/schema.js';

export type DeliveryActivityDeps = {
  db: Database;
  /** Opens the endpoints' sealed signing secrets. */
  secretBox: SecretBox;
  /** Decides which webhook targets may be reached (SSRF protection). */
  webhookAddressPolicy: AddressPolicy;
  /** Time one attempt may take, connect to last byte read (default 15 s). */
  webhookTimeoutMs?: number;
};

/** What one attempt came to; everything but `failed` ends the delivery's workflow. */
export type AttemptOutcome = 'succeeded' | 'failed' | 'endpoint_disabled' | 'skipped';

export type AttemptInput = {
  eventId: string;
  endpointId: string;
  trigger: DeliveryAttemptTrigger;
  /** When the workflow will try again if this attempt fails; null on its last attempt. */
  nextAttemptAt: string | null;
};

/** An endpoint failing without a single success for this long is disabled. */
export const disableAfterFailingMs = 5 * 24 * 3_600_000;

/** The most of a receiver's response body kept in the attempt log. */
export const responseBodyLimit = 1024;

const defaultTimeoutMs = 15_000;
const userAgent = 'closermode-webhooks/1';

export type WebhookResponse =
  | { ok: true; status: number; body: string; latencyMs: number }
  | { ok: false; status: null; error: string; latencyMs: number };

/**
 * Standard Webhooks signature header: one `v1,…` entry per secret, space-separated, so during a
 * rotation a receiver holding either secret can verify.
 */
export function signatureHeader(
  secrets: readonly string[],
  messageId: string,
  timestamp: Date,
  body: string,
): string {
  return secrets.map((secret) => new Webhook(secret).sign(messageId, timestamp, body)).join(' ');
}

/** The secrets that sign now: the current one, and the previous one while its grace lasts. */
export function signingSecrets(
  endpoint: WebhookEndpoint,
  secretBox: SecretBox,
  now: Date,
): string[] {
  const secrets = [secretBox.open(endpoint.secret_sealed)];
  if (
    endpoint.previous_secret_sealed &&
    endpoint.previous_secret_expires_at &&
    endpoint.previous_secret_expires_at > now
  ) {
    secrets.push(secretBox.open(endpoint.previous_secret_sealed));
  }

  return secrets;
}

function readLimited(response: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      if (size < limit) {
        chunks.push(chunk.subarray(0, limit - size));
      }
      size += chunk.length;
      // The rest of a long answer is of no interest; stop reading rather than drain it.
      if (size >= limit) {
        response.destroy();
        resolve(Buffer.concat(chunks).toString('utf8'));
      }
    });
    response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.on('error', reject);
    response.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/**
 * POSTs a body to a webhook target through the address policy. Redirects are not followed (a 3xx
 * is an answer like any other), and the whole exchange is bounded by `timeoutMs`.
 */
export async function postWebhook(options: {
  url: string;
  body: string;
  headers: Record<string, string>;
  policy: AddressPolicy;
  timeoutMs: number;
}): Promise<WebhookResponse> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);

  let url: URL;
  try {
    url = options.policy.checkUrl(options.url);
  } catch (error) {
    const message = error instanceof AddressRefusedError ? error.message : String(error);

    return { ok: false, status: null, error: message, latencyMs: elapsed() };
  }

  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;

  return new Promise<WebhookResponse>((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (result: WebhookResponse) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(result);
      }
    };

    const request = send(
      {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: {
          ...options.headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(options.body)),
          'user-agent': userAgent,
        },
        lookup: options.policy.lookup,
        // A fresh connection per attempt: keep-alive would bypass the lookup on later attempts.
        agent: false,
      },
      (response) => {
        readLimited(response, responseBodyLimit).then(
          (body) =>
            finish({ ok: true, status: response.statusCode ?? 0, body, latencyMs: elapsed() }),
          (error: Error) =>
            finish({ ok: false, status: null, error: error.message, latencyMs: elapsed() }),
        );
      },
    );

    timer = setTimeout(() => {
      request.destroy(new Error(`no complete answer within ${options.timeoutMs} ms`));
    }, options.timeoutMs);

    request.on('error', (error: Error) => {
      finish({ ok: false, status: null, error: error.message, latencyMs: elapsed() });
    });
    request.end(options.body);
  });
}

export function createDeliveryActivities(deps: DeliveryActivityDeps) {
  const { db, secretBox, webhookAddressPolicy } = deps;
  const timeoutMs = deps.webhookTimeoutMs ?? defaultTimeoutMs;

  return {
    /**
     * Makes one signed attempt to deliver an event to an endpoint and logs it. Returns `skipped`
     * when the endpoint was disabled or deleted first, `endpoint_disabled` when this attempt
     * disabled it (410, or five days of failures). Never throws for an HTTP outcome.
     */
    async attemptWebhookDelivery(input: AttemptInput): Promise<AttemptOutcome> {
      const endpoint = await findAttemptContext(db, input.eventId, input.endpointId);
      if (!endpoint) {
        return 'skipped';
      }
      if (endpoint.deleted_at !== null || !endpoint.enabled) {
        await settlePendingDelivery(db, endpoint.delivery_id, 'skipped');

        return 'skipped';
      }

      const body = JSON.stringify(endpoint.payload);
      const startedAt = new Date();
      const response = await postWebhook({
        url: endpoint.url,
        body,
        headers: {
          'webhook-id': input.eventId,
          'webhook-timestamp': String(Math.floor(startedAt.getTime() / 1000)),
          'webhook-signature': signatureHeader(
            signingSecrets(endpoint, secretBox, startedAt),
            input.eventId,
            startedAt,
            body,
          ),
        },
        policy: webhookAddressPolicy,
        timeoutMs,
      });

      const succeeded = response.ok && response.status >= 200 && response.status < 300;
      let outcome: AttemptOutcome = succeeded ? 'succeeded' : 'failed';
      if (succeeded) {
        // Only an endpoint in a run of failures has anything to clear: most successes write nothing.
        if (endpoint.failing_since !== null) {
          await markEndpointSucceeded(db, endpoint.id);
        }
      } else if (response.ok && response.status === 410) {
        await disableEndpoint(db, endpoint.id, 'gone');
        outcome = 'endpoint_disabled';
      } else if (await markEndpointFailed(db, endpoint.id, new Date(), disableAfterFailingMs)) {
        outcome = 'endpoint_disabled';
      }

      const lastAttempt = outcome !== 'failed' || input.nextAttemptAt === null;
      await recordAttempt(
        db,
        endpoint.delivery_id,
        {
          trigger: input.trigger,
          started_at: startedAt,
          response_status: response.status,
          latency_ms: response.latencyMs,
          response_body: response.ok ? response.body : null,
          error: response.ok ? (succeeded ? null : `HTTP ${response.status}`) : response.error,
          succeeded,
        },
        {
          status: succeeded ? 'succeeded' : lastAttempt ? 'failed' : 'pending',
          nextAttemptAt: lastAttempt ? null : new Date(input.nextAttemptAt!),
        },
      );

      return outcome;
    },

    /** Settles a delivery still waiting when its workflow ends without a success. */
    async settleWebhookDelivery(input: {
      eventId: string;
      endpointId: string;
      status: 'failed' | 'skipped';
    }): Promise<void> {
      const delivery = await findDelivery(db, input.eventId, input.endpointId);
      if (delivery) {
        await settlePendingDelivery(db, delivery.id, input.status);
      }
    },
  };
}
