export { processCall } from './process-call.js';
export type { ProcessCallInput, ProcessCallResult } from './process-call.js';
