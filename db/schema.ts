import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/** Where a call is in its processing. `scored` and `failed` are final. */
export type CallStatus = 'queued' | 'downloading' | 'transcribing' | 'scoring' | 'scored' | 'failed';

export const callStatuses: readonly CallStatus[] = [
  'queued',
  'downloading',
  'transcribing',
  'scoring',
  'scored',
  'failed',
];

/** Where a call's transcript came from. */
export type TranscriptSource = 'inline' | 'assemblyai';

/** A JSON value as `JSON.parse` returns it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export type JsonObject = { [key: string]: JsonValue };

type CreatedAt = ColumnType<Date, Date | undefined, never>;
type UpdatedAt = ColumnType<Date, Date | undefined, Date>;

export type WorkspaceTable = {
  id: Generated<string>;
  name: string;
  created_at: CreatedAt;
};

export type AdminKeyTable = {
  id: Generated<string>;
  workspace_id: string;
  /** SHA-256 hex of the key; the key itself is never stored. */
  key_hash: string;
  key_preview: string;
  label: string;
  created_at: CreatedAt;
  revoked_at: Date | null;
};

export type IntegrationTable = {
  id: Generated<string>;
  workspace_id: string;
  name: string;
  provider: string;
  /** The path token of the webhook URL, a random UUID. */
  token: string;
  /** SHA-256 hex of the Bearer API key; the key itself is never stored. */
  api_key_hash: string;
  api_key_preview: string;
  /** CIDRs the webhook accepts requests from; empty allows every address. */
  ip_allowlist: ColumnType<string[], string[] | undefined, string[]>;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  /** HTTP Basic credentials for the recording host, sealed; see `core/secret-box.ts`. */
  recording_auth_sealed: string | null;
  /** The AssemblyAI language code for this integration's calls; null lets AssemblyAI decide. */
  transcription_language: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  deleted_at: Date | null;
};

export type CallTable = {
  id: Generated<string>;
  workspace_id: string;
  integration_id: string;
  external_id: string;
  status: ColumnType<CallStatus, CallStatus | undefined, CallStatus>;
  failure_reason: string | null;
  rep_name: string | null;
  caller_phone: string | null;
  duration: number | null;
  call_date: Date;
  recording_url: string | null;
  transcript_text: string | null;
  transcript_source: TranscriptSource | null;
  /** Stored as `json`, not `jsonb`, so key order and duplicate-free text come back verbatim. */
  metadata: ColumnType<JsonObject | null, string | null, string | null>;
  workflow_id: string;
  /** Set once Temporal has accepted the workflow; null calls are picked up by the recovery loop. */
  workflow_started_at: Date | null;
  /** The latest scorecard; every scorecard ever made for the call is kept in `scores`. */
  score: ColumnType<JsonObject | null, string | null, string | null>;
  overall_score: number | null;
  /** AssemblyAI's utterances with speaker, times and confidence, as `Agent`/`Customer` turns. */
  transcript_utterances: ColumnType<JsonValue[] | null, string | null, string | null>;
  /** AssemblyAI's transcript id while and after it transcribes the call. */
  transcription_id: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
};

export type RecordingTable = {
  call_id: string;
  storage_key: string;
  /** bigint: pg returns it as a string. */
  size: ColumnType<string, number, number>;
  sha256: string;
  content_type: string;
  duration_seconds: number | null;
  final_url: string;
  downloaded_at: ColumnType<Date, Date | undefined, Date>;
};

export type TranscriptionSlotTable = {
  slot: number;
  call_id: string | null;
  expires_at: Date | null;
};

export type ScoreTable = {
  id: Generated<string>;
  call_id: string;
  scorer: string;
  scorer_version: string;
  overall: number | null;
  scorecard: ColumnType<JsonObject, string, never>;
  /** The scoring request that made it: `initial` for the first scoring, else the re-score's id. */
  request_id: string | null;
  created_at: CreatedAt;
};

export type ScoringRubricTable = {
  workspace_id: string;
  override: ColumnType<JsonObject, string, string>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
};

/** Why an outbound webhook endpoint receives nothing: switched off, answered 410, or failed 5 days. */
export type EndpointDisabledReason = 'manual' | 'gone' | 'failing';

export type WebhookEndpointTable = {
  id: Generated<string>;
  workspace_id: string;
  url: string;
  description: ColumnType<string, string | undefined, string>;
  /** The event types delivered (see `callEventTypes`); empty delivers every type. */
  event_types: ColumnType<string[], string[] | undefined, string[]>;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  disabled_reason: EndpointDisabledReason | null;
  /** The signing secret (`whsec_…`), sealed with the secrets key; shown only when made. */
  secret_sealed: string;
  /** The secret before the last rotation: deliveries carry its signature too until it expires. */
  previous_secret_sealed: string | null;
  previous_secret_expires_at: Date | null;
  /** Start of the current unbroken run of failed attempts; a success clears it. */
  failing_since: Date | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  deleted_at: Date | null;
};

export type EventTable = {
  /** Also the `webhook-id` of every delivery, so receivers can deduplicate. */
  id: string;
  workspace_id: string;
  call_id: string;
  type: string;
  /** Tells apart events of one type and call that are meant to be distinct (a re-score). */
  dedupe_key: ColumnType<string, string | undefined, never>;
  /** `{ id, type, createdAt, data: { call } }` as it was at publish time; stored as `json`. */
  payload: ColumnType<JsonObject, string, never>;
  created_at: CreatedAt;
};

/** `pending` waits for its next attempt; `skipped` means the endpoint went away first. */
export type WebhookDeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'skipped';

export type WebhookDeliveryTable = {
  id: Generated<string>;
  workspace_id: string;
  event_id: string;
  endpoint_id: string;
  status: ColumnType<WebhookDeliveryStatus, WebhookDeliveryStatus | undefined, WebhookDeliveryStatus>;
  attempt_count: ColumnType<number, number | undefined, number>;
  last_attempt_at: Date | null;
  last_response_status: number | null;
  next_attempt_at: Date | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
};

/** What started a delivery attempt: the retry schedule, or an admin's retry request. */
export type DeliveryAttemptTrigger = 'scheduled' | 'manual';

export type WebhookDeliveryAttemptTable = {
  id: Generated<string>;
  delivery_id: string;
  attempt: number;
  trigger: DeliveryAttemptTrigger;
  started_at: Date;
  /** Null when no response arrived (refused address, timeout, connection error). */
  response_status: number | null;
  latency_ms: number;
  /** The first KiB of the response body at most. */
  response_body: string | null;
  error: string | null;
  succeeded: boolean;
};

export type AuditLogTable = {
  id: Generated<string>;
  workspace_id: string;
  /** The admin key that acted; null once that key is deleted. */
  admin_key_id: string | null;
  /** `<target>.<verb>`, e.g. `integration.rotate_key`. */
  action: string;
  target_type: string;
  target_id: string | null;
  /** Which fields changed, never their secret values. */
  details: ColumnType<JsonObject | null, string | null, never>;
  request_id: string | null;
  created_at: CreatedAt;
};

export type DatabaseSchema = {
  workspaces: WorkspaceTable;
  admin_keys: AdminKeyTable;
  integrations: IntegrationTable;
  calls: CallTable;
  scores: ScoreTable;
  recordings: RecordingTable;
  transcription_slots: TranscriptionSlotTable;
  scoring_rubrics: ScoringRubricTable;
  webhook_endpoints: WebhookEndpointTable;
  events: EventTable;
  webhook_deliveries: WebhookDeliveryTable;
  webhook_delivery_attempts: WebhookDeliveryAttemptTable;
  audit_log: AuditLogTable;
};

export type Workspace = Selectable<WorkspaceTable>;
export type NewWorkspace = Insertable<WorkspaceTable>;
export type AdminKey = Selectable<AdminKeyTable>;
export type NewAdminKey = Insertable<AdminKeyTable>;
export type Integration = Selectable<IntegrationTable>;
export type NewIntegration = Insertable<IntegrationTable>;
export type IntegrationUpdate = Updateable<IntegrationTable>;
export type Call = Selectable<CallTable>;
export type NewCall = Insertable<CallTable>;
export type CallUpdate = Updateable<CallTable>;
export type Score = Selectable<ScoreTable>;
export type Recording = Selectable<RecordingTable>;
export type NewScore = Insertable<ScoreTable>;
export type WebhookEndpoint = Selectable<WebhookEndpointTable>;
export type NewWebhookEndpoint = Insertable<WebhookEndpointTable>;
export type WebhookEndpointUpdate = Updateable<WebhookEndpointTable>;
export type Event = Selectable<EventTable>;
export type NewEvent = Insertable<EventTable>;
export type WebhookDelivery = Selectable<WebhookDeliveryTable>;
export type WebhookDeliveryAttempt = Selectable<WebhookDeliveryAttemptTable>;
export type NewWebhookDeliveryAttempt = Insertable<WebhookDeliveryAttemptTable>;
export type AuditLogEntry = Selectable<AuditLogTable>;
export type NewAuditLogEntry = Insertable<AuditLogTable>;
