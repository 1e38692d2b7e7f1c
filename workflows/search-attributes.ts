import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes every call workflow carries, so an operator can find a call in the
 * Temporal UI by integration, external id, status or rep (`CallExternalId = "call-001"`).
 */
export const callIntegrationIdKey = defineSearchAttributeKey(
  'CallIntegrationId',
  SearchAttributeType.KEYWORD,
);
export const callExternalIdKey = defineSearchAttributeKey('CallExternalId', SearchAttributeType.KEYWORD);
export const callStatusKey = defineSearchAttributeKey('CallStatus', SearchAttributeType.KEYWORD);
export const callRepNameKey = defineSearchAttributeKey('CallRepName', SearchAttributeType.KEYWORD);

export const callSearchAttributeKeys = [
  callIntegrationIdKey,
  callExternalIdKey,
  callStatusKey,
  callRepNameKey,
] as const;
