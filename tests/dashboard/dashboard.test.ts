import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startTestStack, type IntegrationCredentials, type TestStack } from '../helpers/stack.js';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const transcript = await readFile(
  new URL('../fixtures/transcripts/objection-handled.txt', import.meta.url),
  'utf8',
);

const hostileMarkup = '<img src=x onerror=window.__pwned=1>';
const hostileTranscript = [
  'Agent: Hello <script>window.__pwned=1</script> and welcome.',
  `Customer: Is ${hostileMarkup} a problem?`,
  'Agent: No. Shall we talk again on Tuesday at 10?',
  'Customer: Yes.',
].join('\n');

/** The few browser globals the tests read inside the page (the project compiles without DOM types). */
type PageGlobals = {
  sessionStorage: { length: number; getItem(name: string): string | null };
  __pwned?: unknown;
};

type ApiCall = {
  id: string;
  status: string;
  metadata: unknown;
  score: {
    overall: number;
    criteria: Array<{ name: string; explanation: string; evidence: Array<{ text: string }> }>;
  } | null;
};

describe('the dashboard', () => {
  let stack: TestStack;
  let browser: Browser;
  let main: IntegrationCredentials;
  let other: IntegrationCredentials;
  let scoredCallId: string;
  const metadata = { campaign: 'spring-renewals', crm: { dealId: 4411, stage: 'proposal' } };
  const openContexts: BrowserContext[] = [];

  before(async () => {
    stack = await startTestStack();
    main = await stack.createIntegration({ name: 'Main dialer' });
    other = await stack.createIntegration({ name: 'Second dialer' });
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });

  after(async () => {
    for (const context of openContexts) {
      await context.close().catch(() => undefined);
    }
    await browser?.close();
    await stack?.close();
  });

  /** A fresh tab (its own sessionStorage) that records every console error and page error. */
  async function newPage(): Promise<{ page: Page; problems: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    openContexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(5_000);
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') {
        problems.push(message.text());
      }
    });
    page.on('pageerror', (error) => problems.push(error.message));

    return { page, problems };
  }

  async function signedInPage(): Promise<{ page: Page; problems: string[] }> {
    const opened = await newPage();
    await opened.page.goto(`${stack.baseUrl}/dashboard`);
    await opened.page.getByLabel('Admin key').fill(stack.adminKey);
    await opened.page.getByRole('button', { name: 'Sign in' }).click();
    await opened.page.locator('#calls-body tr').first().waitFor();

    return opened;
  }

  async function postCall(integration: IntegrationCredentials, body: Record<string, unknown>) {
    const response = await stack.postCall(integration, body);
    assert.equal(response.status, 200, await response.clone().text());

    return ((await response.json()) as { callId: string }).callId;
  }

  async function apiCall(id: string): Promise<ApiCall> {
    return (await (await stack.admin('GET', `/api/calls/${id}`)).json()) as ApiCall;
  }

  function row(page: Page, callId: string) {
    return page.locator(`#calls-body tr[data-call-id="${callId}"]`);
  }

  test('the page is served with a strict content security policy, nosniff and no referrer', async () => {
    const root = await fetch(`${stack.baseUrl}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/dashboard');

    for (const [path, type] of [
      ['/dashboard', 'text/html'],
      ['/dashboard/dashboard.js', 'text/javascript'],
      ['/dashboard/dashboard.css', 'text/css'],
      ['/dashboard/icon.svg', 'image/svg+xml'],
    ] as const) {
      const response = await fetch(`${stack.baseUrl}${path}`);
      assert.equal(response.status, 200, path);
      assert.ok(response.headers.get('content-type')?.startsWith(type), path);
      const policy = response.headers.get('content-security-policy') ?? '';
      assert.match(policy, /(^|; )default-src 'self'(;|$)/, path);
      assert.match(policy, /frame-ancestors 'none'/, path);
      assert.match(policy, /form-action 'none'/, path);
      assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval/, path);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(response.headers.get('referrer-policy'), 'no-referrer', path);
    }

    const page = await fetch(`${stack.baseUrl}/dashboard`);
    const etag = page.headers.get('etag');
    assert.ok(etag);
    // fetch() adds `Cache-Control: no-cache` to conditional requests unless told otherwise, and a
    // server rightly answers that in full.
    const again = await fetch(`${stack.baseUrl}/dashboard`, {
      headers: { 'if-none-match': etag, 'cache-control': 'max-age=0' },
    });
    assert.equal(again.status, 304);

    assert.equal((await fetch(`${stack.baseUrl}/dashboard/secrets.json`)).status, 404);
    assert.equal((await fetch(`${stack.baseUrl}/dashboard/..%2Fapp.ts`)).status, 404);
  });

  test('a visitor is asked for the admin key, and a wrong key reads Unauthorized', async () => {
    const { page, problems } = await newPage();
    await page.goto(`${stack.baseUrl}/`);
    assert.equal(new URL(page.url()).pathname, '/dashboard');

    const keyField = page.getByLabel('Admin key');
    await keyField.waitFor();
    assert.equal(await keyField.getAttribute('type'), 'password');
    assert.equal(await page.locator('#app-view').isVisible(), false);

    await keyField.fill('cm_admin_not-a-real-key');
    await keyField.press('Enter');
    await page.locator('#sign-in-error', { hasText: 'Unauthorized' }).waitFor();
    assert.equal(await page.locator('#app-view').isVisible(), false);
    assert.equal(
      await page.evaluate(() => (globalThis as unknown as PageGlobals).sessionStorage.length),
      0,
    );

    await keyField.fill(stack.adminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Calls' }).waitFor();
    assert.equal(
      await page.evaluate(() =>
        (globalThis as unknown as PageGlobals).sessionStorage.getItem('closermode.adminKey'),
      ),
      stack.adminKey,
      'the key is kept in sessionStorage',
    );
    assert.ok(!page.url().includes(stack.adminKey), 'the key never appears in the URL');

    // A reload in the same tab keeps the session; signing out forgets the key.
    await page.reload();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await keyField.waitFor();
    assert.equal(
      await page.evaluate(() => (globalThis as unknown as PageGlobals).sessionStorage.length),
      0,
    );
    assert.equal(await page.locator('#app-view').isVisible(), false);

    // The 401 of the wrong key is the only error the page logged.
    assert.ok(
      problems.every((problem) => problem.includes('401')),
      problems.join('\n'),
    );
  });

  test('a posted call appears in the list and reaches scored without a reload', async () => {
    await stack.stopWorker();
    const callId = await postCall(main, {
      externalId: 'renewal-001',
      repName: 'Lee Park',
      duration: 312,
      callDate: '2026-04-20T14:05:00Z',
      transcript,
      metadata,
    });

    const { page, problems } = await signedInPage();
    const listed = row(page, callId);
    await listed.waitFor();
    assert.equal(await listed.locator('.badge').textContent(), 'queued');
    assert.match((await listed.textContent()) ?? '', /renewal-001.*Lee Park.*5:12/);

    await stack.startWorker();
    await listed.locator('.badge', { hasText: 'scored' }).waitFor({ timeout: 20_000 });
    const call = await apiCall(callId);
    assert.equal(call.status, 'scored');
    assert.equal(await listed.locator('.score-number').textContent(), String(call.score?.overall));
    scoredCallId = callId;
    assert.deepEqual(problems, []);
  });

  test('opening a call shows its score, criteria, evidence, transcript and metadata', async () => {
    const call = await apiCall(scoredCallId);
    assert.ok(call.score);
    const { page, problems } = await signedInPage();

    await row(page, scoredCallId).getByRole('button', { name: 'renewal-001' }).click();
    const detail = page.locator('#detail');
    await detail.getByRole('heading', { name: 'renewal-001' }).waitFor();
    assert.doesNotMatch(await detail.innerText(), /\b(null|undefined)\b/, 'no absent value shows');
    assert.equal(await detail.locator('.failure').count(), 0);

    assert.equal(
      await detail.locator('.overall-number span').textContent(),
      String(call.score.overall),
    );
    const criteria = detail.locator('.criterion');
    assert.equal(await criteria.count(), call.score.criteria.length);
    for (const [index, criterion] of call.score.criteria.entries()) {
      const item = criteria.nth(index);
      assert.equal(await item.locator('h4').textContent(), criterion.name);
      assert.equal(await item.locator('.explanation').textContent(), criterion.explanation);
      assert.equal(await item.locator('.quote q').count(), criterion.evidence.length);
    }
    const quoted = call.score.criteria.flatMap((criterion) => criterion.evidence)[0];
    assert.ok(quoted, 'the fixture call has evidence');
    assert.ok(await detail.locator('.quote q', { hasText: quoted.text }).first().isVisible());
    for (const label of ['Talk share', 'Turns', 'Questions', 'Longest monologue']) {
      assert.ok(await detail.locator('dt', { hasText: label }).isVisible(), label);
    }
    assert.ok(await detail.getByText('Scored by builtin').isVisible());

    const lines = transcript.trim().split('\n');
    assert.equal(await detail.locator('.transcript .turn').count(), lines.length);
    assert.equal(await detail.locator('.turn.speaker-agent').count(), 7);
    assert.equal(await detail.locator('.turn.speaker-customer').count(), 7);
    assert.equal(
      await detail.locator('.turn.speaker-customer .turn-text').first().textContent(),
      'Hi Lee.',
    );
    assert.equal(await detail.locator('pre.json').textContent(), JSON.stringify(metadata, null, 2));

    await page.screenshot({ path: '/tmp/dashboard.png' });

    // An evidence line number leads to that line of the transcript.
    await detail.locator('.line-ref').first().click();
    assert.ok(await detail.locator('.turn.highlight').isVisible());

    assert.deepEqual(problems, []);
  });

  test('hostile metadata, transcript and external id render as text and run nothing', async () => {
    const callId = await postCall(main, {
      externalId: `x-${hostileMarkup}`,
      repName: '<b>Rep</b>',
      transcript: hostileTranscript,
      metadata: { note: hostileMarkup, nested: { html: '<script>window.__pwned=1</script>' } },
    });
    await stack.waitForCall(callId, ['scored'], 15_000);

    const { page, problems } = await signedInPage();
    const listed = row(page, callId);
    await listed.getByRole('button').click();
    const detail = page.locator('#detail');
    await detail.locator('#detail-title', { hasText: hostileMarkup }).waitFor();

    assert.ok(await detail.locator('pre.json', { hasText: hostileMarkup }).isVisible());
    assert.ok(
      await detail
        .locator('.turn-text', { hasText: 'Hello <script>window.__pwned=1</script> and welcome.' })
        .isVisible(),
    );
    assert.ok(await listed.getByText('<b>Rep</b>').isVisible());
    assert.equal(await page.locator('#detail img, #calls-body img, #detail script, b').count(), 0);
    assert.equal(
      await page.evaluate(() => (globalThis as unknown as PageGlobals).__pwned),
      undefined,
    );
    assert.deepEqual(problems, []);
  });

  test('the status and integration filters narrow the list', async () => {
    const otherCallId = await postCall(other, {
      externalId: 'second-dialer-1',
      transcript: 'Agent: Hi.\nCustomer: Hello.',
    });
    // The suite configures no transcription service, so a call with only a recording fails.
    const failedCallId = await postCall(main, {
      externalId: 'unreachable-recording',
      recordingUrl: 'http://127.0.0.1:9/call.mp3',
    });
    await stack.waitForCall(otherCallId, ['scored'], 15_000);
    const failed = await stack.waitForCall(failedCallId, ['failed'], 15_000);

    const { page, problems } = await signedInPage();
    const statuses = page.locator('#calls-body tr');
    const status = page.getByLabel('Status');

    await status.selectOption('failed');
    await row(page, scoredCallId).waitFor({ state: 'detached' });
    assert.deepEqual(await statuses.evaluateAll(rowIds), [failedCallId]);

    await row(page, failedCallId).getByRole('button').click();
    await page.locator('.failure', { hasText: failed.failure_reason ?? '' }).waitFor();
    assert.ok(failed.failure_reason);

    await status.selectOption('queued');
    await page.getByText('No calls match these filters.').waitFor();
    assert.equal(await statuses.count(), 0);

    await status.selectOption('');
    await page.getByLabel('Integration').selectOption({ label: 'Second dialer' });
    await row(page, scoredCallId).waitFor({ state: 'detached' });
    assert.deepEqual(await statuses.evaluateAll(rowIds), [otherCallId]);

    await page.getByLabel('Integration').selectOption('');
    await row(page, scoredCallId).waitFor();
    const listed = (await (await stack.admin('GET', '/api/calls')).json()) as {
      calls: Array<{ id: string }>;
    };
    assert.deepEqual(
      await statuses.evaluateAll(rowIds),
      listed.calls.map((call) => call.id),
      'all calls, newest first',
    );
    assert.deepEqual(problems, []);
  });

  test('Re-score adds an entry to the score history', async () => {
    const { page, problems } = await signedInPage();
    await row(page, scoredCallId).getByRole('button').click();
    const history = page.locator('#score-history tbody tr');
    await history.first().waitFor();
    const before = await history.count();

    await page.getByRole('button', { name: 'Re-score' }).click();
    await page.locator('#detail-message', { hasText: 'Re-scored' }).waitFor({ timeout: 15_000 });
    assert.equal(await history.count(), before + 1);
    assert.equal(await history.first().locator('td').nth(3).textContent(), 'Re-score');

    const { scores } = (await (
      await stack.admin('GET', `/api/calls/${scoredCallId}/scores`)
    ).json()) as {
      scores: unknown[];
    };
    assert.equal(scores.length, before + 1);
    assert.deepEqual(problems, []);
  });

  test('the export buttons download the calls of the current filters', async () => {
    const { page, problems } = await signedInPage();
    await page.getByLabel('Integration').selectOption({ label: 'Second dialer' });
    await page.locator('#calls-body tr').nth(1).waitFor({ state: 'detached' });

    const [csv] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'CSV' }).click(),
    ]);
    assert.match(csv.suggestedFilename(), /^calls-.*\.csv$/);
    const csvText = await readFile((await csv.path())!, 'utf8');
    assert.match(csvText, /^id,externalId,/);
    assert.match(csvText, /second-dialer-1/);
    assert.doesNotMatch(csvText, /renewal-001/);

    await page.getByLabel('with transcripts').check();
    const [ndjson] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'NDJSON' }).click(),
    ]);
    assert.match(ndjson.suggestedFilename(), /\.ndjson$/);
    const records = (await readFile((await ndjson.path())!, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { externalId: string; transcript: { text: string } });
    assert.deepEqual(
      records.map((record) => record.externalId),
      ['second-dialer-1'],
    );
    assert.equal(records[0]?.transcript.text, 'Agent: Hi.\nCustomer: Hello.');
    assert.deepEqual(problems, []);
  });

  test('Load more follows the cursor to the next page of calls', async () => {
    const bulk = await stack.createIntegration({ name: 'Bulk dialer' });
    const ids: string[] = [];
    for (let index = 0; index < 27; index += 1) {
      ids.push(await postCall(bulk, { externalId: `bulk-${index}`, transcript: 'Agent: Hi.' }));
    }

    const { page, problems } = await signedInPage();
    await page.getByLabel('Integration').selectOption({ label: 'Bulk dialer' });
    const rows = page.locator('#calls-body tr');
    await row(page, ids.at(-1)!).waitFor();
    await page.getByText('25 calls shown').waitFor();
    assert.equal(await rows.count(), 25);

    await page.getByRole('button', { name: 'Load more' }).click();
    await page.getByText('27 calls shown').waitFor();
    assert.deepEqual(await rows.evaluateAll(rowIds), [...ids].reverse());
    assert.equal(await page.getByRole('button', { name: 'Load more' }).isVisible(), false);
    assert.deepEqual(problems, []);
  });
});

function rowIds(rows: Array<{ getAttribute(name: string): string | null }>) {
  return rows.map((each) => each.getAttribute('data-call-id'));
}
