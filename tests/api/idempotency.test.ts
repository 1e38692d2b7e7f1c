import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { availableDatabaseKinds } from '../helpers/database.js';
import { startTestStack, type IntegrationCredentials, type TestStack } from '../helpers/stack.js';

for (const kind of availableDatabaseKinds()) {
  describe(`idempotency under concurrency (${kind})`, () => {
    let stack: TestStack;
    let integration: IntegrationCredentials;

    before(async () => {
      stack = await startTestStack({ databaseKind: kind });
      integration = await stack.createIntegration();
    });
    after(() => stack.close());

    test('50 simultaneous posts of one externalId create one call and one workflow', async () => {
      const externalId = `race-${crypto.randomUUID()}`;
      const responses = await Promise.all(
        Array.from({ length: 50 }, (_, index) =>
          stack.postCall(integration, {
            externalId,
            transcript: `Agent: attempt ${index}\nCustomer: ok`,
          }),
        ),
      );
      const bodies = (await Promise.all(responses.map((response) => response.json()))) as Array<{
        success?: boolean;
        skipped?: boolean;
        reason?: string;
        callId: string;
      }>;

      assert.ok(responses.every((response) => response.status === 200));
      const created = bodies.filter((body) => body.success === true);
      const duplicates = bodies.filter((body) => body.skipped === true && body.reason === 'duplicate');
      assert.equal(created.length, 1);
      assert.equal(duplicates.length, 49);
      const callId = created[0]!.callId;
      assert.ok(duplicates.every((body) => body.callId === callId));

      const rows = await stack.database.db
        .selectFrom('calls')
        .select(['id', 'workflow_id'])
        .where('external_id', '=', externalId)
        .execute();
      assert.equal(rows.length, 1);

      await stack.waitForCall(callId);
      const query = `WorkflowId = '${rows[0]!.workflow_id}'`;
      let executions = 0;
      for (let attempt = 0; attempt < 20; attempt += 1) {
        executions = (await stack.api.client.workflow.count(query)).count;
        if (executions > 0) {
          break;
        }
        await sleep(100);
      }
      assert.equal(executions, 1);
    });

    test('the recovery loop re-starting an already started call does not run it twice', async () => {
      const response = await stack.postCall(integration, { externalId: `again-${crypto.randomUUID()}`, transcript: 'Agent: hi' });
      const { callId } = (await response.json()) as { callId: string };
      await stack.waitForCall(callId);

      // Forget that the workflow started, as if the api had crashed right after starting it.
      await stack.database.db.updateTable('calls').set({ workflow_started_at: null }).where('id', '=', callId).execute();
      await sleep(1_100);
      await stack.api.dispatcher.recoverPending();

      const call = await stack.waitForCall(callId);
      assert.equal(call.status, 'scored');
      assert.notEqual(call.workflow_started_at, null);
      const scores = await stack.database.db.selectFrom('scores').select('id').where('call_id', '=', callId).execute();
      assert.equal(scores.length, 1, 'scored exactly once');
    });
  });
}
