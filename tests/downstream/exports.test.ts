import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { Call } from '../../db/schema.js';
import type { IntegrationCredentials, TestStack } from '../helpers/stack.js';
import { csvObjects, parseCsv, startDownstreamStack, storeCall } from './helpers.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/closermode.js', import.meta.url));

/** What a spreadsheet-safe cell holds for a text value. */
function guarded(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

const tricky = [
  { repName: 'Plain Rep', callerPhone: '+15550001111', transcript: 'Agent: Hi.\nCustomer: Hello.' },
  {
    repName: 'Comma, "Quoted" Rep',
    callerPhone: '=HYPERLINK("http://x")',
    transcript: 'line one\r\nline two',
  },
  { repName: '@SUM(A1:A9)', callerPhone: '-1+1', transcript: '=cmd|calc' },
  { repName: '\tTabbed', callerPhone: '\rCarriage', transcript: 'Ünïcødé ✓ 電話' },
];

describe('call exports', () => {
  let stack: TestStack;
  let first: IntegrationCredentials;
  let second: IntegrationCredentials;
  const calls: Call[] = [];

  async function exportText(query: string): Promise<{ response: Response; text: string }> {
    const response = await stack.admin('GET', `/api/calls/export?${query}`);

    return { response, text: await response.text() };
  }

  before(async () => {
    stack = await startDownstreamStack({ withWorker: false });
    first = await stack.createIntegration({ name: 'first' });
    second = await stack.createIntegration({ name: 'second' });

    for (const [index, values] of tricky.entries()) {
      calls.push(
        await storeCall(stack, index % 2 === 0 ? first.id : second.id, {
          external_id: `export-${index}`,
          rep_name: values.repName,
          caller_phone: values.callerPhone,
          transcript_text: values.transcript,
          duration: index === 3 ? -5 : 60.5 * index,
          call_date: new Date(Date.UTC(2026, 0, 10 + index, 9, 30)),
          status: index === 1 ? 'failed' : 'scored',
          failure_reason: index === 1 ? 'no audio' : null,
          overall_score: index === 1 ? null : 40 + index,
          score: index === 1 ? null : JSON.stringify({ overall: 40 + index }),
          metadata:
            index === 0
              ? null
              : `{"crm":{"id":"L-${index}"},"tags":["a,b","\\"q\\""],"n":${index}}`,
        }),
      );
    }
  });
  after(() => stack.close());

  test('CSV read back gives every field of every call, in call-date order', async () => {
    const { response, text } = await exportText('format=csv&includeTranscript=true');
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.match(
      response.headers.get('content-disposition')!,
      /^attachment; filename="calls-[\dT-]+Z\.csv"$/,
    );
    assert.ok(text.endsWith('\r\n'));

    const [header] = parseCsv(text);
    assert.deepEqual(header, [
      'id',
      'externalId',
      'integrationId',
      'status',
      'failureReason',
      'repName',
      'callerPhone',
      'callDate',
      'duration',
      'recordingUrl',
      'overallScore',
      'metadata',
      'workflowId',
      'createdAt',
      'updatedAt',
      'transcriptSource',
      'transcript',
    ]);

    const rows = csvObjects(text);
    assert.equal(rows.length, calls.length);
    for (const [index, call] of calls.entries()) {
      const row = rows[index]!;
      assert.equal(row.id, call.id);
      assert.equal(row.externalId, call.external_id);
      assert.equal(row.integrationId, call.integration_id);
      assert.equal(row.status, call.status);
      assert.equal(row.failureReason, call.failure_reason ?? '');
      assert.equal(row.repName, guarded(call.rep_name!));
      assert.equal(row.callerPhone, guarded(call.caller_phone!));
      assert.equal(row.callDate, call.call_date.toISOString());
      assert.equal(Number(row.duration), call.duration);
      assert.equal(row.recordingUrl, '');
      assert.equal(row.overallScore, call.overall_score === null ? '' : String(call.overall_score));
      assert.deepEqual(row.metadata === '' ? null : JSON.parse(row.metadata!), call.metadata);
      assert.equal(row.transcriptSource, 'inline');
      assert.equal(row.transcript, guarded(call.transcript_text!));
      assert.equal(row.workflowId, call.workflow_id ?? '');
      assert.equal(row.createdAt, call.created_at.toISOString());
      assert.equal(row.updatedAt, call.updated_at.toISOString());
    }
  });

  test('text cells that a spreadsheet would run are guarded; numbers are not', async () => {
    const rows = csvObjects((await exportText('format=csv&includeTranscript=true')).text);

    assert.equal(rows[1]!.callerPhone, `'=HYPERLINK("http://x")`);
    assert.equal(rows[2]!.repName, `'@SUM(A1:A9)`);
    assert.equal(rows[2]!.callerPhone, `'-1+1`);
    assert.equal(rows[2]!.transcript, `'=cmd|calc`);
    assert.equal(rows[3]!.repName, `'\tTabbed`);
    assert.equal(rows[3]!.callerPhone, `'\rCarriage`);
    assert.equal(rows[3]!.duration, '-5', 'a negative number stays a number');
    assert.equal(rows[0]!.callerPhone, `'+15550001111`, 'a phone number starting with + is text');
  });

  test('without includeTranscript the CSV has no transcript columns', async () => {
    const [header] = parseCsv((await exportText('format=csv')).text);

    assert.ok(!header!.includes('transcript'));
    assert.ok(!header!.includes('transcriptSource'));
  });

  test('NDJSON lines are the call resources, transcript on request', async () => {
    const withTranscript = await exportText('format=ndjson&includeTranscript=true');
    assert.equal(
      withTranscript.response.headers.get('content-type'),
      'application/x-ndjson; charset=utf-8',
    );
    assert.match(withTranscript.response.headers.get('content-disposition')!, /\.ndjson"$/);
    const lines = withTranscript.text.trimEnd().split('\n');
    assert.equal(lines.length, calls.length);

    for (const [index, call] of calls.entries()) {
      const fromApi = await (await stack.admin('GET', `/api/calls/${call.id}`)).json();
      assert.deepEqual(JSON.parse(lines[index]!), fromApi);
    }
    assert.ok(lines[1]!.includes('"metadata":{"crm":{"id":"L-1"},"tags":["a,b","\\"q\\""],"n":1}'));

    const without = (await exportText('format=ndjson')).text.trimEnd().split('\n');
    assert.ok(without.every((line) => !('transcript' in (JSON.parse(line) as object))));
  });

  test('filters narrow the export by call date, integration and status', async () => {
    const ids = async (query: string) =>
      (await exportText(`format=ndjson&${query}`)).text
        .trimEnd()
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as { id: string }).id);

    assert.deepEqual(await ids('from=2026-01-11&to=2026-01-13'), [calls[1]!.id, calls[2]!.id]);
    assert.deepEqual(await ids('from=2026-01-12T09:30:00.000Z'), [calls[2]!.id, calls[3]!.id]);
    assert.deepEqual(await ids(`integrationId=${second.id}`), [calls[1]!.id, calls[3]!.id]);
    assert.deepEqual(await ids('status=failed'), [calls[1]!.id]);
    assert.deepEqual(await ids(`status=scored&integrationId=${first.id}`), [
      calls[0]!.id,
      calls[2]!.id,
    ]);
    assert.deepEqual(await ids('to=2020-01-01'), []);
  });

  test('an empty CSV export still has its header row', async () => {
    const rows = parseCsv((await exportText('format=csv&to=2020-01-01')).text);

    assert.equal(rows.length, 1);
    assert.equal(rows[0]![0], 'id');
  });

  test('bad export parameters are refused with 400', async () => {
    for (const query of [
      'format=xlsx',
      'from=yesterday',
      'from=2026-02-01&to=2026-01-01',
      'integrationId=nope',
      'status=done',
      'includeTranscript=maybe',
    ]) {
      const { response, text } = await exportText(query);
      assert.equal(response.status, 400, query);
      assert.equal((JSON.parse(text) as { code: string }).code, 'invalid_request', query);
    }
  });

  test('the export route is not mistaken for a call id', async () => {
    const response = await stack.admin('GET', '/api/calls/export');

    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/csv; charset=utf-8');
  });

  test('closermode calls export writes the same bytes to a file or to stdout', async () => {
    const env = {
      ...process.env,
      CLOSERMODE_URL: stack.baseUrl,
      CLOSERMODE_ADMIN_KEY: stack.adminKey,
    };
    const dir = await mkdtemp(
      path.join(process.env.CLOSERMODE_TEST_SCRATCH ?? os.tmpdir(), 'export-'),
    );
    const file = path.join(dir, 'calls.csv');

    await run(
      process.execPath,
      [bin, 'calls', 'export', '--format', 'csv', '--include-transcript', '--output', file],
      { env },
    );
    const fromApi = (await exportText('format=csv&includeTranscript=true')).text;
    assert.equal(await readFile(file, 'utf8'), fromApi);

    const { stdout } = await run(
      process.execPath,
      [
        bin,
        'calls',
        'export',
        '--format',
        'ndjson',
        '--from',
        '2026-01-12',
        '--integration',
        second.id,
      ],
      { env },
    );
    assert.deepEqual(
      stdout
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as { id: string }).id),
      [calls[3]!.id],
    );
  });
});

describe('exports of many calls', () => {
  let stack: TestStack;
  const total = 1_234;

  before(async () => {
    stack = await startDownstreamStack({ withWorker: false });
    const integration = await stack.createIntegration({ name: 'bulk' });
    const base = Date.UTC(2026, 1, 1);
    const rows = Array.from({ length: total }, (_, index) => ({
      workspace_id: stack.workspaceId,
      integration_id: integration.id,
      external_id: `bulk-${index}`,
      // Pairs of calls share a call date, so the keyset must order ties by id.
      call_date: new Date(base + Math.floor(index / 2) * 1_000),
      transcript_text: `Agent: call ${index}`,
      transcript_source: 'inline' as const,
      metadata: JSON.stringify({ index }),
      workflow_id: `bulk:${index}`,
      workflow_started_at: new Date(),
    }));
    for (let offset = 0; offset < rows.length; offset += 500) {
      await stack.database.db
        .insertInto('calls')
        .values(rows.slice(offset, offset + 500))
        .execute();
    }
  });
  after(() => stack.close());

  test('every call is streamed once, across several pages, in order', async () => {
    const response = await stack.admin('GET', '/api/calls/export?format=ndjson');
    assert.equal(response.headers.get('transfer-encoding'), 'chunked');
    const lines = (await response.text()).trimEnd().split('\n');
    const exported = lines.map(
      (line) => JSON.parse(line) as { id: string; callDate: string; metadata: { index: number } },
    );

    assert.equal(exported.length, total);
    assert.equal(new Set(exported.map((call) => call.id)).size, total);
    for (let index = 1; index < exported.length; index += 1) {
      const previous = exported[index - 1]!;
      const current = exported[index]!;
      assert.ok(
        previous.callDate < current.callDate ||
          (previous.callDate === current.callDate && previous.id < current.id),
        `row ${index} is out of order`,
      );
    }

    const csv = csvObjects(await (await stack.admin('GET', '/api/calls/export?format=csv')).text());
    assert.equal(csv.length, total);
    assert.deepEqual(
      csv.map((row) => row.id),
      exported.map((call) => call.id),
    );
  });
});
