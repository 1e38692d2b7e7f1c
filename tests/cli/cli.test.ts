import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { startTestStack, type TestStack } from '../helpers/stack.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/closermode.js', import.meta.url));

describe('the closermode CLI', () => {
  let stack: TestStack;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    stack = await startTestStack({ withWorker: false });
    env = { ...process.env, CLOSERMODE_URL: stack.baseUrl, CLOSERMODE_ADMIN_KEY: stack.adminKey };
  });
  after(() => stack.close());

  const cli = (...args: string[]) => run(process.execPath, [bin, ...args], { env });

  test('integrations create --json prints exactly the created integration', async () => {
    const { stdout } = await cli('integrations', 'create', '--name', 'CLI dialer', '--allow-ip', '10.0.0.0/8', '--allow-ip', '::1', '--json');
    const created = JSON.parse(stdout) as Record<string, unknown>;

    assert.deepEqual(Object.keys(created).sort(), ['apiKey', 'createdAt', 'id', 'ipAllowlist', 'name', 'provider', 'webhookUrl']);
    assert.equal(created.name, 'CLI dialer');
    assert.deepEqual(created.ipAllowlist, ['10.0.0.0/8', '::1/128']);
    assert.match(String(created.apiKey), /^cm_live_/);
  });

  test('integrations list, rotate-key and allowlist work end to end', async () => {
    const created = JSON.parse((await cli('integrations', 'create', '--name', 'rotate me', '--json')).stdout) as { id: string; apiKey: string };

    const listed = JSON.parse((await cli('integrations', 'list', '--json')).stdout) as { integrations: Array<{ id: string }> };
    assert.ok(listed.integrations.some((each) => each.id === created.id));

    const rotated = JSON.parse((await cli('integrations', 'rotate-key', created.id, '--json')).stdout) as { apiKey: string };
    assert.match(rotated.apiKey, /^cm_live_/);
    assert.notEqual(rotated.apiKey, created.apiKey);

    const limited = JSON.parse((await cli('integrations', 'allowlist', created.id, '192.0.2.0/24', '--json')).stdout) as { ipAllowlist: string[] };
    assert.deepEqual(limited.ipAllowlist, ['192.0.2.0/24']);
    const cleared = JSON.parse((await cli('integrations', 'allowlist', created.id, '--json')).stdout) as { ipAllowlist: string[] };
    assert.deepEqual(cleared.ipAllowlist, []);
  });

  test('calls get --json prints the same object as the API', async () => {
    const integration = await stack.createIntegration();
    const { callId } = (await (await stack.postCall(integration, { externalId: 'cli-call', transcript: 'Agent: hi', metadata: { a: [1, 'b'] } })).json()) as { callId: string };

    const { stdout } = await cli('calls', 'get', callId, '--json');
    const fromApi = await (await stack.admin('GET', `/api/calls/${callId}`)).json();
    assert.deepEqual(JSON.parse(stdout), fromApi);
  });

  test('errors are printed plainly with a non-zero exit', async () => {
    await assert.rejects(cli('calls', 'get', crypto.randomUUID()), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 1);
      assert.equal(error.stderr.trim(), 'closermode: Call not found');

      return true;
    });
    await assert.rejects(
      run(process.execPath, [bin, 'integrations', 'list'], { env: { ...env, CLOSERMODE_ADMIN_KEY: 'cm_admin_nope' } }),
      (error: { stderr: string }) => error.stderr.includes('Unauthorized'),
    );
  });
});
