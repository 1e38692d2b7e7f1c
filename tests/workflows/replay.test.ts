// Determinism guard: workflow histories, fresh from this run and committed from earlier versions,
// are replayed through the worker's replay API. A change that would break running workflows fails.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Worker } from '@temporalio/worker';
import { workflowsPath } from '../../worker/worker.js';
import { startFakeAssemblyAi, type FakeAssemblyAi } from '../fakes/assemblyai-server.js';
import { startServer, type TestServer } from '../recordings/http-servers.js';
import { startTestStack, temporalAddress, workflowBundle, type TestStack } from '../helpers/stack.js';

const run = promisify(execFile);

const fixturesDir = fileURLToPath(new URL('../fixtures/histories/', import.meta.url));

function replayOptions() {
  const bundle = workflowBundle();

  return bundle ? { workflowBundle: bundle } : { workflowsPath };
}

describe('workflow replay', () => {
  let stack: TestStack;

  let files: TestServer;
  let assembly: FakeAssemblyAi;

  before(async () => {
    const wav = await readFile(new URL('../fixtures/audio/two-voice-call.wav', import.meta.url));
    files = await startServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'audio/wav' }).end(wav);
    });
    assembly = await startFakeAssemblyAi({ pollsUntilCompleted: 2 });
    stack = await startTestStack({
      env: { ALLOW_PRIVATE_HOSTS: '127.0.0.1', ASSEMBLYAI_API_KEY: 'test-api-key', ASSEMBLYAI_BASE_URL: assembly.url },
    });
  });
  after(async () => {
    await stack.close();
    await assembly.close();
    await files.close();
  });

  test('histories of calls run now replay without a determinism error', async () => {
    const integration = await stack.createIntegration();
    const payloads = [
      { externalId: 'replay-inline', repName: 'Jane', transcript: 'Agent: Hi, this is Jane.\nCustomer: Hello?' },
      { externalId: 'replay-recording', repName: 'Jane', recordingUrl: `${files.origin}/call.wav` },
      { externalId: 'replay-failed-download', recordingUrl: 'http://169.254.169.254/latest/meta-data/' },
    ];

    const histories = [];
    for (const payload of payloads) {
      const { callId } = (await (await stack.postCall(integration, payload)).json()) as { callId: string };
      const call = await stack.waitForCall(callId, ['scored', 'failed'], 60_000);
      const handle = stack.api.client.workflow.getHandle(call.workflow_id);
      await handle.result();
      const history = await handle.fetchHistory();
      histories.push({ workflowId: call.workflow_id, history });

      // Fixtures are exported the way an operator would export a history, with the Temporal CLI.
      if (process.env.CLOSERMODE_WRITE_HISTORY_FIXTURES) {
        const { stdout } = await run(process.env.CLOSERMODE_TEST_TEMPORAL_CLI ?? 'temporal', [
          'workflow', 'show', '--address', temporalAddress(), '--workflow-id', call.workflow_id, '--output', 'json',
        ], { maxBuffer: 64 * 1024 * 1024 });
        await writeFile(path.join(fixturesDir, `${payload.externalId}.json`), stdout);
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
      // The replay API takes the CLI's JSON as it is.
      const history: unknown = JSON.parse(await readFile(path.join(fixturesDir, file), 'utf8'));
      await Worker.runReplayHistory(replayOptions(), history, file);
    }
  });
});
