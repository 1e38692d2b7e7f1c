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
  created_at: CreatedAt;
  updated_at: UpdatedAt;
};

export type ScoreTable = {
  id: Generated<string>;
  call_id: string;
  scorer: string;
  scorer_version: string;
  overall: number | null;
  scorecard: ColumnType<JsonObject, string, never>;
  created_at: CreatedAt;
};

export type DatabaseSchema = {
  workspaces: WorkspaceTable;
  admin_keys: AdminKeyTable;
  integrations: IntegrationTable;
  calls: CallTable;
  scores: ScoreTable;
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
export type NewScore = Insertable<ScoreTable>;
