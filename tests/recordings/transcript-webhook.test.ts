// AssemblyAI's webhook, end to end: the worker asks for it with a per-call token, the local
// AssemblyAI stand-in calls the api back when the transcript is done, and the api wakes the call's
// workflow, which then checks at once instead of at its next scheduled status check.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  assemblyAiWebhookHeader,
  assemblyAiWebhookPurpose,
  assemblyAiWebhookUrl,
} from '../../core/assemblyai-webhook.js';
import { createSecretBox, resolveSecretsKey, type SecretBox } from '../../core/secret-box.js';
import { startFakeAssemblyAi, type FakeAssemblyAi } from '../fakes/assemblyai-server.js';
import { freePort } from '../helpers/ports.js';
import { startTestStack, type IntegrationCredentials, type TestStack } from '../helpers/stack.js';
import { startServer, type TestServer } from './http-servers.js';

const wavPath = fileURLToPath(new URL('../fixtures/audio/two-voice-call.wav', import.meta.url));

describe("AssemblyAI's transcript webhook", () => {
  let files: TestServer;
  let assembly: FakeAssemblyAi;
  let stack: TestStack;
  let integration: IntegrationCredentials;
  let secretBox: SecretBox;

  before(async () => {
    const wav = await readFile(wavPath);
    files = await startServer((_request, response) => {
      response
        .writeHead(200, { 'content-type': 'audio/wav', 'content-length': wav.length })
        .end(wav);
    });
    // Done 6.5 s after submission. Status checks come about 1, 2.5 and 4.75 s after it and then not
    // before 8.1 s, so the webhook lands in the middle of a wait that only it can end early.
    assembly = await startFakeAssemblyAi({ processingMs: 6_500 });
    const port = await freePort();
    stack = await startTestStack({
      env: {
        PORT: String(port),
        PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
        ALLOW_PRIVATE_HOSTS: '127.0.0.1',
        ASSEMBLYAI_API_KEY: 'test-api-key',
        ASSEMBLYAI_BASE_URL: assembly.url,
        ASSEMBLYAI_WEBHOOKS: 'true',
      },
    });
    integration = await stack.createIntegration();
    secretBox = createSecretBox(await resolveSecretsKey(stack.config));
  });
  after(async () => {
    await stack.close();
    await assembly.close();
    await files.close();
  });

  function callBack(callId: string, token?: string): Promise<Response> {
    return fetch(assemblyAiWebhookUrl(stack.baseUrl, callId), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token !== undefined && { [assemblyAiWebhookHeader]: token }),
      },
      body: JSON.stringify({ transcript_id: 'anything', status: 'completed' }),
    });
  }

  test('the webhook wakes the workflow, which checks the transcript before its next timer fires', async () => {
    const response = await stack.postCall(integration, {
      externalId: 'hooked-1',
      recordingUrl: `${files.origin}/recordings/hooked-1.wav`,
    });
    const { callId } = (await response.json()) as { callId: string };

    const call = await stack.waitForCall(callId, ['scored', 'failed'], 60_000);
    assert.equal(call.status, 'scored', call.failure_reason ?? '');

    const submitted = [...assembly.state.transcripts.values()].at(-1)!;
    assert.equal(submitted.params.webhook_url, assemblyAiWebhookUrl(stack.baseUrl, callId));
    assert.equal(submitted.params.webhook_auth_header_name, assemblyAiWebhookHeader);
    await assembly.settled();
    assert.deepEqual(
      assembly.state.webhooks.map((each) => each.responseStatus),
      [200],
    );

    const { events } = await stack.api.client.workflow.getHandle(call.workflow_id!).fetchHistory();
    const signalled = events!.findIndex(
      (event) => event.workflowExecutionSignaledEventAttributes?.signalName === 'transcriptReady',
    );
    assert.ok(signalled > 0, 'the workflow received transcriptReady');
    assert.ok(
      events!.slice(signalled).some((event) => event.timerCanceledEventAttributes),
      'the signal ended a wait whose timer had not fired',
    );
  });

  test('a call back without the call’s own token is refused', async () => {
    const response = await stack.postCall(integration, {
      externalId: 'hooked-2',
      transcript: 'Agent: Hello.\nCustomer: Hi.',
    });
    const { callId } = (await response.json()) as { callId: string };
    const otherCallsToken = secretBox.sign(assemblyAiWebhookPurpose, 'some-other-call');

    for (const token of [undefined, '', 'not-a-token', otherCallsToken]) {
      const refused = await callBack(callId, token);
      assert.equal(refused.status, 401, `token ${String(token)}`);
      assert.deepEqual(await refused.json(), { error: 'Unauthorized', code: 'unauthorized' });
    }
  });

  test('a late or repeated call back for a finished call is accepted and changes nothing', async () => {
    const response = await stack.postCall(integration, {
      externalId: 'hooked-3',
      transcript: 'Agent: Hello.\nCustomer: Hi.',
    });
    const { callId } = (await response.json()) as { callId: string };
    const scored = await stack.waitForCall(callId);

    const accepted = await callBack(callId, secretBox.sign(assemblyAiWebhookPurpose, callId));
    assert.equal(accepted.status, 200);
    assert.deepEqual(await accepted.json(), { received: true });
    const after = await stack.waitForCall(callId);
    assert.equal(after.status, scored.status);
    assert.equal(after.updated_at.getTime(), scored.updated_at.getTime());
  });
});
