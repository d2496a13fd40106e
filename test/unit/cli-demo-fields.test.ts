import { expect } from 'chai';
import { DeadLetterSampler, RollingFieldRates } from '../../cli/commands/demo-fields.js';

describe('cli demo fields', () => {
  it('demo fields - ranks fields by rate over the window and forgets batches that fell out of it', () => {
    const rates = new RollingFieldRates(10_000);
    rates.add([{ field: 'a@1:x received forwarded', count: 10 }, { field: 'b@1:y received dropped', count: 50 }], 0);
    rates.add([{ field: 'a@1:x received forwarded', count: 90 }], 9_000);
    expect(rates.top(10, 9_000)).to.deep.equal([
      { field: 'a@1:x received forwarded', perSecond: 10 },
      { field: 'b@1:y received dropped', perSecond: 5 },
    ]);
    // Once the first batch left the window, the rate is over what the window still holds: 90 in the 4s since 8s.
    expect(rates.top(1, 12_000)).to.deep.equal([{ field: 'a@1:x received forwarded', perSecond: 22.5 }]);
    expect(rates.top(10, 30_000)).to.deep.equal([]);
  });

  it('demo fields - dead letters: the first ones in full, then one line per interval that says how many it stands for', () => {
    const s = new DeadLetterSampler(2, 5000);
    expect(s.next(0)).to.equal('');
    expect(s.next(10)).to.equal('(2 shown; from here on 1 line per 5s, sampled)');
    expect(s.next(20)).to.equal(undefined);
    expect(s.next(30)).to.equal(undefined);
    expect(s.next(5020)).to.equal('(sampled: 1 of 3 since the last line, 5 in all)');
    expect(s.next(5030)).to.equal(undefined);
  });
});
