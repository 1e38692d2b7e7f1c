/**
 * What the worker asks AssemblyAI to send back when a transcript is done, and what the api checks
 * when it arrives: a URL naming the call and a header holding a token only our key can make.
 */

/** The header AssemblyAI adds to its webhook call (its `webhook_auth_header_name`). */
export const assemblyAiWebhookHeader = 'x-closermode-token';

/** The `SecretBox.sign` purpose of that header's token; the value signed is the call id. */
export const assemblyAiWebhookPurpose = 'assemblyai-webhook';

export function assemblyAiWebhookUrl(publicBaseUrl: string, callId: string): string {
  return `${publicBaseUrl}/api/assemblyai/webhook/${encodeURIComponent(callId)}`;
}
