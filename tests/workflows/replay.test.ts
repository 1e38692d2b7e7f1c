// Determinism guard: workflow histories, fresh from this run and committed from earlier versions,
// are replayed through the worker's replay API. A change that would break running workflows fails.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { workflowsPath } from '../../worker/worker.js';
import { startTestStack, workflowBundle, type TestStack } from '../helpers/stack.js';

const fixturesDir = fileURLToPath(new URL('../fixtures/histories/', import.meta.url));

function replayOptions() {
  const bundle = workflowBundle();

  return bundle ? { workflowBundle: bundle } : { workflowsPath };
}

describe('workflow replay', () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack();
  });
  after(() => stack.close());

  test('histories of calls run now replay without a determinism error', async () => {
    const integration = await stack.createIntegration();
    const payloads = [
      { externalId: 'replay-inline', repName: 'Jane', transcript: 'Agent: Hi, this is Jane.\nCustomer: Hello?' },
      { externalId: 'replay-recording', recordingUrl: 'http://127.0.0.1:9/missing.mp3' },
    ];

    const histories = [];
    for (const payload of payloads) {
      const { callId } = (await (await stack.postCall(integration, payload)).json()) as { callId: string };
      const call = await stack.waitForCall(callId, ['scored', 'failed'], 60_000);
      const handle = stack.api.client.workflow.getHandle(call.workflow_id);
      await handle.result();
      const history = await handle.fetchHistory();
      histories.push({ workflowId: call.workflow_id, history });

      if (process.env.CLOSERMODE_WRITE_HISTORY_FIXTURES) {
        await writeFile(path.join(fixturesDir, `${payload.externalId}.json`), historyToJSON(history));
      }
    }

    for await (const result of Worker.runReplayHistories(replayOptions(), histories)) {
      assert.equal(result.error, undefined, `${result.workflowId}: ${result.error?.message}`);
    }
  });

  test('committed histories from earlier versions still replay', async () => {
    const files = (await readdir(fixturesDir)).filter((file) => file.endsWith('.json'));
    assert.ok(files.length > 0, 'there are committed history fixtures');

    for (const file of files) {
      const history = historyFromJSON(JSON.parse(await readFile(path.join(fixturesDir, file), 'utf8')));
      await Worker.runReplayHistory(replayOptions(), history, file);
    }
  });
});
