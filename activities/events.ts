/** The events downstream systems can subscribe to. */
export type CallEventType = 'call.created' | 'call.transcribed' | 'call.scored' | 'call.failed';

export const callEventTypes: readonly CallEventType[] = [
  'call.created',
  'call.transcribed',
  'call.scored',
  'call.failed',
];

/**
 * Records that something happened to a call and hands it to outbound delivery. Publishing the same
 * (type, call, dedupeKey) twice records one event, so activities may retry freely.
 */
export type EventPublisher = {
  publish(type: CallEventType, callId: string, options?: { dedupeKey?: string }): Promise<void>;
};

