/**
 * A user's contract-compatibility suite: run it in CI next to the service's own tests and a
 * contract change that would break consumers fails the build before it is deployed.
 * (Inside this repository the helpers are imported by path; an application imports them from
 * the signalbus package's contracts module.)
 */
import { expect } from 'chai';
import { AssertionError } from 'node:assert';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertCompatible, assertValid, ContractRegistry, type ContractVersion } from '../../contracts/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const registry = new ContractRegistry({ standard: false, directories: [join(here, 'contracts')] });

describe('order contracts', () => {
  for (const name of registry.names()) {
    const versions = registry.versions(name).map((v) => registry.get(name, v));

    for (const cv of versions) {
      it(`${name}@${cv.version} - every example is valid`, () => {
        for (const example of cv.definition.examples ?? []) assertValid(cv, example, registry);
      });
    }

    // Each version against every earlier one of its major, under the mode its file declares.
    versions.forEach((next, i) => {
      const earlier: ContractVersion[] = versions.slice(0, i).filter((p) => p.semver.major === next.semver.major);
      for (const previous of earlier) {
        const mode = next.definition.compatibility ?? 'BACKWARD';
        it(`${name} - ${next.version} is ${mode} compatible with ${previous.version}`, () => {
          assertCompatible(previous, next, mode);
        });
      }
    });
  }

  // What the suite does with a breaking change: the proposed 1.2.0 would fail the check above.
  // This test shows it by expecting the failure; in a real suite the file would simply sit in
  // contracts/ and the generated test would go red.
  it('order.placed - a breaking change fails assertCompatible with each change listed', () => {
    const current = registry.get('order.placed', '1.1.0');
    const proposed = join(here, 'proposed/order.placed-1.2.0.json');
    let failure: unknown;
    try {
      assertCompatible(current, proposed, 'BACKWARD');
    } catch (err) {
      failure = err;
    }
    expect(failure).to.be.instanceOf(AssertionError);
    // `actual` lists the changes found as `<rule> <path>: <explanation>` (the message shows the same to a reader).
    const changes = ((failure as AssertionError).actual as string[]).map((c) => c.slice(0, c.indexOf(': ')));
    expect(changes).to.include('type-narrowed /totalCents');
    expect(changes).to.include('required-added /shippingAddress');
    expect(changes).to.include('enum-value-removed /currency');
  });
});
