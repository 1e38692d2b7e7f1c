export { processCall } from './process-call.js';
export type { ProcessCallInput, ProcessCallResult } from './process-call.js';
export { rescoreCall } from './rescore-call.js';
export type { RescoreCallInput } from './rescore-call.js';
export { deliverEvent } from './deliver-event.js';
export type { DeliverEventInput, DeliverEventResult } from './deliver-event.js';
export { pruneDeliveryLog } from './prune-delivery-log.js';
