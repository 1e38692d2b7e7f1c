import { createHash } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  type Client,
  type Connection,
  type WorkflowStartOptions,
} from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import proto from '@temporalio/proto';
import { callSearchAttributeKeys } from '../workflows/search-attributes.js';

// Temporal limits workflow ids to 1,000 bytes by default; encoded external ids above this length
// are replaced by their hash so any valid external id maps to one stable id.
const maxEncodedExternalIdLength = 600;

/**
 * The workflow id of a call: `call:<integrationId>:<externalId>`. The external id is
 * percent-encoded so a `:` or a space in it cannot make two calls collide, and hashed when long.
 */
export function callWorkflowId(integrationId: string, externalId: string): string {
  const encoded = encodeURIComponent(externalId);
  const part =
    encoded.length <= maxEncodedExternalIdLength
      ? encoded
      : `sha256-${createHash('sha256').update(externalId, 'utf8').digest('hex')}`;

  return `call:${integrationId}:${part}`;
}

/**
 * Starts a workflow once per id: while one with the id runs it is kept (`USE_EXISTING`), and once
 * one has finished it is never started again (`REJECT_DUPLICATE`), so a late or repeated start is
 * harmless and resolves like the first. With `timeoutMs`, rejects if Temporal does not answer
 * within it; without, the client's own deadline applies.
 */
export async function startWorkflowOnce<T extends Workflow>(
  client: Client,
  workflowType: string,
  options: WorkflowStartOptions<T>,
  timeoutMs?: number,
): Promise<void> {
  const start = () =>
    client.workflow.start<T>(workflowType, {
      ...options,
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
  try {
    await (timeoutMs === undefined
      ? start()
      : client.connection.withDeadline(Date.now() + timeoutMs, start));
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) {
      throw error;
    }
  }
}

const { IndexedValueType } = proto.temporal.api.enums.v1;

const indexedValueTypes = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  TEXT: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  DOUBLE: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  KEYWORD_LIST: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
} as const;

/**
 * Registers the call search attributes in the namespace if they are missing. The dev server gets
 * them at start too; this covers a production cluster such as the one docker-compose runs.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = callSearchAttributeKeys.filter((key) => !known.has(key.name));
  if (missing.length === 0) {
    return;
  }

  const searchAttributes = Object.fromEntries(
    missing.map((key) => [key.name, indexedValueTypes[key.type]]),
  );

  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
  } catch (error) {
    // Another process registering the same attributes at the same moment is not a failure.
    if (!/already exists/i.test(String((error as Error).message))) {
      throw error;
    }
  }
}
