import { expect } from 'chai';
import { AssertionError } from 'node:assert';
import { join } from 'node:path';
import { assertCompatible, assertUpcasts, assertValid, ContractRegistry, standardSchemasDir } from '../../contracts/index.js';
import { readingV1, readingV2, registry } from './helpers.js';

describe('contracts testing helpers', () => {
  const std = standardSchemasDir();

  it('testing - assertCompatible passes compatible pairs and returns the result', () => {
    const r = assertCompatible({ type: 'integer' }, { type: 'number' }, 'BACKWARD');
    expect(r.compatible).to.equal(true);
    assertCompatible(join(std, 'sensor.reading/2.0.0.json'), join(std, 'sensor.reading/2.0.0.json'), 'FULL');
    assertCompatible(registry.get('sensor.reading', '2.0.0'), registry.get('sensor.reading', '2.0.0'), 'full_transitive');
  });

  it('testing - assertCompatible throws an AssertionError listing each change', () => {
    let err: unknown;
    try { assertCompatible(join(std, 'sensor.reading/1.0.0.json'), join(std, 'sensor.reading/2.0.0.json'), 'BACKWARD'); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(AssertionError);
    // `actual` lists the changes as `<rule> <path>: <explanation>`.
    const found = ((err as AssertionError).actual as string[]).map((c) => c.slice(0, c.indexOf(': ')));
    expect(found, 'rule and path of each change').to.include('required-added /deviceId');
    // The message also shows data the old version accepts and the new one rejects.
    expect((err as AssertionError).message).to.match(/backward example: \{.*\} is valid under the old schema and rejected by the new/);
  });

  it('testing - assertValid names the failing paths', () => {
    assertValid('sensor.reading@2.0.0', readingV2);
    assertValid(registry.get('sensor.reading', '1.0.0'), readingV1);
    let err: unknown;
    try { assertValid('sensor.reading@2.0.0', { ...readingV2, ts: 'now' }); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(AssertionError);
    expect(((err as AssertionError).actual as Array<{ path: string }>).map((i) => i.path), 'the failing paths').to.deep.equal(['/ts']);
  });

  it('testing - assertUpcasts returns valid data of the newer version', () => {
    const v2 = assertUpcasts('sensor.reading@2.0.0', '1.0.0', readingV1) as Record<string, unknown>;
    expect(v2.deviceId).to.equal('sensor-7');
    expect(() => assertUpcasts('sensor.reading@2.0.0', '1.0.0', { sensor: 'x' })).to.throw(AssertionError);
    const noUpcaster = new ContractRegistry({ upcasters: [] });
    expect(() => assertUpcasts('sensor.reading@2.0.0', '1.0.0', readingV1, noUpcaster)).to.throw(AssertionError).with.property('operator', 'assertUpcasts');
  });
});
