import type { Call, Integration } from '../db/schema.js';

/** The webhook URL a dialer posts to for this integration. */
export function webhookUrlFor(publicBaseUrl: string, token: string): string {
  return `${publicBaseUrl}/api/webhooks/phone/generic/${token}`;
}

/** An integration as management routes show it: never its key, which exists only at creation. */
export function integrationResource(integration: Integration, publicBaseUrl: string) {
  return {
    id: integration.id,
    name: integration.name,
    provider: integration.provider,
    webhookUrl: webhookUrlFor(publicBaseUrl, integration.token),
    apiKeyPreview: integration.api_key_preview,
    ipAllowlist: integration.ip_allowlist,
    enabled: integration.enabled,
    hasRecordingAuth: integration.recording_auth_sealed !== null,
    transcriptionLanguage: integration.transcription_language,
    createdAt: integration.created_at.toISOString(),
    updatedAt: integration.updated_at.toISOString(),
  };
}

/** A call as the calls API, exports and outbound webhooks show it. */
export function callResource(call: Call) {
  return {
    id: call.id,
    integrationId: call.integration_id,
    externalId: call.external_id,
    status: call.status,
    failureReason: call.failure_reason,
    repName: call.rep_name,
    callerPhone: call.caller_phone,
    duration: call.duration,
    callDate: call.call_date.toISOString(),
    recordingUrl: call.recording_url,
    transcript:
      call.transcript_text === null
        ? null
        : { text: call.transcript_text, source: call.transcript_source },
    score: call.score,
    metadata: call.metadata,
    workflowId: call.workflow_id,
    createdAt: call.created_at.toISOString(),
    updatedAt: call.updated_at.toISOString(),
  };
}

export type CallResource = ReturnType<typeof callResource>;
