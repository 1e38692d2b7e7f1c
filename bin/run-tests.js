#!/usr/bin/env node
// `npm test`: the test harness, run from its TypeScript source.
import { register } from 'tsx/esm/api';

register();
await import('../tests/harness/run.ts');
