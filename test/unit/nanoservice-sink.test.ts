import { expect } from 'chai';
import { createEnvelope, OptionsInvalidError } from '../../core/index.js';
import { createSinkService } from '../../nanoservices/index.js';
import { classifyPgError } from '../../nanoservices/sink/pg-errors.js';
import { COLUMNS, rowValues, toRow } from '../../nanoservices/sink/rows.js';
import { identifier, insertStatement, tableOf } from '../../nanoservices/sink/table.js';

describe('sink - pure parts', () => {
  it('sink - names a table by contract and major version, as a safe PostgreSQL identifier', () => {
    expect(tableOf('sensor.reading', 'urn:signalbus:contract:sensor.reading:2.1.0')).to.equal('sensor_reading_v2');
    expect(tableOf('sensor.reading', 'urn:signalbus:contract:sensor.reading:10.0.0-rc.1')).to.equal('sensor_reading_v10');
    expect(tableOf('Order-Placed', undefined)).to.equal('order_placed');
    expect(tableOf('order.placed', 'https://example.com/schema.json'), 'a foreign dataschema has no signalbus version').to.equal('order_placed');
    expect(identifier('9lives')).to.equal('t_9lives');
    expect(identifier('a"; drop table x; --')).to.match(/^[a-z_][a-z0-9_]*$/);
    const long = identifier(`x${'y'.repeat(100)}`);
    expect(long).to.have.length(63);
    expect(identifier(`x${'y'.repeat(100)}z`), 'names that share a prefix stay apart').to.not.equal(long);
  });

  it('sink - maps an event to a row: attributes as columns, other extensions in extensions, data as JSON, bytes as base64', () => {
    const e = createEnvelope({ source: '/s', type: 't', id: 'i', data: { a: 1, s: 'x"y' }, tenant: 'acme', partitionkey: 'k', region: 'eu', time: '2026-01-01T00:00:00Z' });
    const values = rowValues(e);
    const byColumn = Object.fromEntries(COLUMNS.map(([name], i) => [name, values[i]]));
    expect(byColumn).to.include({ source: '/s', id: 'i', type: 't', specversion: '1.0', tenant: 'acme', partitionkey: 'k', time: '2026-01-01T00:00:00Z', datacontenttype: 'application/json', data_base64: null });
    expect(JSON.parse(byColumn.extensions!)).to.deep.equal({ region: 'eu' });
    expect(JSON.parse(byColumn.data!)).to.deep.equal({ a: 1, s: 'x"y' });
    const { row, size } = toRow(e);
    expect(size).to.equal(row.length);
    const parsed = JSON.parse(row) as Record<string, unknown>;
    expect(parsed).to.deep.include({ source: '/s', id: 'i', data: { a: 1, s: 'x"y' }, extensions: { region: 'eu' } });
    expect(parsed, 'null columns are left out').to.not.have.property('subject');

    const bin = rowValues(createEnvelope({ source: '/s', type: 't', data: new Uint8Array([1, 2, 255]), datacontenttype: 'application/octet-stream' }));
    expect(bin[COLUMNS.findIndex(([n]) => n === 'data_base64')]).to.equal('AQL/');
    expect(bin[COLUMNS.findIndex(([n]) => n === 'data')]).to.equal(null);
  });

  it('sink - a refusal is SQLSTATE class 22 or 23; everything else is the database being unavailable', () => {
    expect(classifyPgError({ code: '22P05', message: 'unsupported Unicode escape sequence' })).to.deep.include({ kind: 'refused', sqlstate: '22P05' });
    expect(classifyPgError({ code: '23514', message: 'check' })).to.deep.include({ kind: 'refused', sqlstate: '23514' });
    expect(classifyPgError({ code: '57P01', message: 'terminating connection' })).to.deep.include({ kind: 'unavailable', code: '57P01', tableMissing: false });
    expect(classifyPgError({ code: 'ECONNREFUSED', message: 'connect' })).to.deep.include({ kind: 'unavailable', code: 'ECONNREFUSED' });
    expect(classifyPgError(new Error('Connection terminated unexpectedly'))).to.deep.include({ kind: 'unavailable', code: 'unknown' });
    expect(classifyPgError({ code: '42P01', message: 'relation does not exist' })).to.deep.include({ kind: 'unavailable', tableMissing: true });
  });

  it('sink - quotes names and inserts one JSON array, skipping rows already stored', () => {
    const sql = insertStatement('iot', 'sensor_reading_v2');
    expect(sql).to.contain('INSERT INTO "iot"."sensor_reading_v2"');
    expect(sql).to.contain('jsonb_to_recordset($1::jsonb)');
    expect(sql).to.match(/ON CONFLICT \(source, id\) DO NOTHING$/);
    expect(sql).to.not.contain('$2');
  });

  it('sink - options: a URL is needed, names must be identifiers, maxAttempts is refused (it never gives up)', () => {
    const saved = process.env.PG_URL;
    delete process.env.PG_URL;
    try {
      expect(() => createSinkService({ input: 'a.>' })).to.throw(OptionsInvalidError).with.nested.property('details.field', 'url');
      process.env.PG_URL = 'postgres://x@127.0.0.1/db';
      expect(() => createSinkService({ input: 'a.>' })).not.to.throw();
      expect(() => createSinkService({ input: 'a.>', schema: 'bad-name' })).to.throw(OptionsInvalidError).with.nested.property('details.field', 'schema');
      expect(() => createSinkService({ input: 'a.>', reconnect: { maxAttempts: 3 } as never })).to.throw(OptionsInvalidError).with.nested.property('details.field', 'reconnect.maxAttempts');
      expect(createSinkService({ input: 'a.>', maxBatchRows: 100, batchesInFlight: 3 }).subscriptions[0]!.maxInFlight, 'room for the batches in flight and one filling').to.equal(400);
    } finally {
      if (saved === undefined) delete process.env.PG_URL; else process.env.PG_URL = saved;
    }
  });
});
