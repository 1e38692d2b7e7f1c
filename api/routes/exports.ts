import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Router from '@koa/router';
import { stringify } from 'csv-stringify';
import { z } from 'zod';
import type { Database } from '../../db/database.js';
import { exportCallPages } from '../../db/queries/exports.js';
import { callStatuses, type Call, type CallStatus } from '../../db/schema.js';
import type { AppContext, AppState } from '../context.js';
import { callResource } from '../resources.js';
import { parseRequest, uuidParam } from '../validation.js';

export type ExportRouteDeps = { db: Database };

export type ExportFormat = 'csv' | 'ndjson';

const instant = z
  .string()
  .refine((value) => !Number.isNaN(Date.parse(value)), 'Must be an ISO 8601 date or date-time')
  .transform((value) => new Date(value));

const exportQuery = z
  .object({
    format: z.enum(['csv', 'ndjson']).default('csv'),
    from: instant.optional(),
    to: instant.optional(),
    integrationId: uuidParam.optional(),
    status: z.enum(callStatuses as [CallStatus, ...CallStatus[]]).optional(),
    includeTranscript: z
      .enum(['true', 'false', '1', '0'])
      .default('false')
      .transform((value) => value === 'true' || value === '1'),
  })
  .refine((query) => !query.from || !query.to || query.from < query.to, {
    message: 'Must be after from',
    path: ['to'],
  });

/** The CSV columns, in order; the transcript's two come last, and only when asked for. */
const csvColumns = [
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
] as const;

const transcriptColumns = ['transcriptSource', 'transcript'] as const;

type CsvRecord = Record<(typeof csvColumns)[number] | (typeof transcriptColumns)[number], unknown>;

/** One CSV record: the call's scalar fields, its overall score and its metadata as JSON text. */
export function csvRecord(call: Call, includeTranscript: boolean): Partial<CsvRecord> {
  const resource = callResource(call);
  const record: Partial<CsvRecord> = {
    id: resource.id,
    externalId: resource.externalId,
    integrationId: resource.integrationId,
    status: resource.status,
    failureReason: resource.failureReason,
    repName: resource.repName,
    callerPhone: resource.callerPhone,
    callDate: resource.callDate,
    duration: resource.duration,
    recordingUrl: resource.recordingUrl,
    overallScore: call.overall_score,
    metadata: resource.metadata === null ? null : JSON.stringify(resource.metadata),
    workflowId: resource.workflowId,
    createdAt: resource.createdAt,
    updatedAt: resource.updatedAt,
  };
  if (includeTranscript) {
    record.transcriptSource = resource.transcript?.source ?? null;
    record.transcript = resource.transcript?.text ?? null;
  }

  return record;
}

/** One NDJSON line's object: the call resource, without its transcript unless asked for. */
export function ndjsonRecord(call: Call, includeTranscript: boolean): Record<string, unknown> {
  const { transcript, ...rest } = callResource(call);

  return includeTranscript ? { ...rest, transcript } : rest;
}

function attachmentName(format: ExportFormat): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');

  return `calls-${stamp}.${format === 'csv' ? 'csv' : 'ndjson'}`;
}

/**
 * Pages of calls, the first read before the response starts so that a failing database is an
 * ordinary 500. A failure later, once rows are on the wire, cuts the connection instead: the
 * client then sees an incomplete transfer, never a file that looks complete.
 */
async function pagesOrFail(
  ctx: AppContext,
  pages: AsyncGenerator<Call[]>,
): Promise<AsyncGenerator<Call[]>> {
  const first = await pages.next();

  return (async function* () {
    try {
      if (!first.done) {
        yield first.value;
      }
      for await (const page of pages) {
        yield page;
      }
    } catch (error) {
      ctx.state.log.error({ err: error }, 'export failed while streaming');
      ctx.res.destroy();
    }
  })();
}

async function* csvRecords(pages: AsyncIterable<Call[]>, includeTranscript: boolean) {
  for await (const page of pages) {
    for (const call of page) {
      yield csvRecord(call, includeTranscript);
    }
  }
}

/**
 * Characters gathered into one NDJSON chunk: far fewer writes than a line at a time, and below the
 * size at which V8 puts a string straight into its old generation, where it would stay until a
 * full collection instead of dying young.
 */
const ndjsonChunkChars = 32 * 1024;

async function* ndjsonChunks(pages: AsyncIterable<Call[]>, includeTranscript: boolean) {
  let chunk = '';
  for await (const page of pages) {
    for (const call of page) {
      chunk += `${JSON.stringify(ndjsonRecord(call, includeTranscript))}\n`;
      if (chunk.length >= ndjsonChunkChars) {
        yield chunk;
        chunk = '';
      }
    }
  }
  if (chunk.length > 0) {
    yield chunk;
  }
}

/**
 * `GET /api/calls/export`: every matching call of the workspace, streamed page by page as CSV
 * (RFC 4180, CRLF, a header row, formula-guarded text cells) or NDJSON. Must be registered before
 * `/api/calls/:id`, which would otherwise take `export` for an id.
 */
export function exportRoutes({ db }: ExportRouteDeps): Router<AppState> {
  const router = new Router<AppState>();

  router.get('/api/calls/export', async (ctx) => {
    const query = parseRequest(exportQuery, ctx.query);
    const pages = await pagesOrFail(
      ctx,
      exportCallPages(
        db,
        {
          workspaceId: ctx.state.workspaceId!,
          from: query.from,
          to: query.to,
          integrationId: query.integrationId,
          status: query.status,
        },
        // CSV shows the overall score only; the scorecard is NDJSON's.
        { transcript: query.includeTranscript, score: query.format === 'ndjson' },
      ),
    );

    ctx.set('Content-Disposition', `attachment; filename="${attachmentName(query.format)}"`);
    ctx.set('Cache-Control', 'no-store');

    if (query.format === 'ndjson') {
      ctx.type = 'application/x-ndjson; charset=utf-8';
      ctx.body = Readable.from(ndjsonChunks(pages, query.includeTranscript), { objectMode: false });
      return;
    }

    const columns = query.includeTranscript
      ? [...csvColumns, ...transcriptColumns]
      : [...csvColumns];
    const csv = stringify({
      header: true,
      columns: columns.map((key) => ({ key })),
      record_delimiter: 'windows',
      // RFC 4180 quotes any field holding a line break; csv-stringify stops doing so by itself once
      // a record delimiter is set, so it is asked to.
      quote_record_delimiter: true,
      // Text cells starting with = + - @ tab or CR get a leading ' so spreadsheets do not run them
      // as formulas. Numbers (duration, overallScore) are left alone, negative ones included.
      escape_formulas: true,
    });
    ctx.type = 'text/csv; charset=utf-8';
    ctx.body = csv;
    pipeline(Readable.from(csvRecords(pages, query.includeTranscript)), csv).catch(
      (error: unknown) => {
        // The client went away, or the database failed (already logged and the socket cut).
        ctx.state.log.debug({ err: error }, 'export stream ended early');
      },
    );
  });

  return router;
}
