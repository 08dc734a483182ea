// The worker's event pump: a receiver that acknowledges slowly and out of step must still see
// every item once, in order, with at most one delivery in flight, and drain() must not resolve
// before the last item has been handled (an RPC result would otherwise overtake its events).
import { describe, expect, it } from 'vitest';
import { Pump } from '../../src/worker/throttle';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Pump', () => {
  it('delivers in order, one send at a time, and drain() waits for the last acknowledgement', async () => {
    const handled: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    let sends = 0;
    // Acknowledgement delays that vary, as a busy UI thread's would.
    const delays = [7, 0, 3, 11, 1, 5];
    const pump = new Pump<number>(async (items) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(delays[sends++ % delays.length]!);
      handled.push(...items);
      inFlight--;
    }, 2);
    for (let i = 0; i < 200; i++) {
      pump.push(i, i % 17 === 0);
      if (i % 9 === 0) await sleep(1);
    }
    await pump.drain();
    expect(handled).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(maxInFlight).toBe(1);
    expect(sends).toBeLessThan(200); // batched, not one message per item
  });

  it('a receiver that fails or has gone away does not stop later deliveries or drain()', async () => {
    const handled: string[] = [];
    let calls = 0;
    const pump = new Pump<string>((items) => {
      if (calls++ === 0) throw new Error('the page went away');
      handled.push(...items);
    }, 1);
    pump.push('lost', true);
    pump.push('a', true);
    pump.push('b');
    await pump.drain();
    expect(handled).toEqual(['a', 'b']);
  });
});
