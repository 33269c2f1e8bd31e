/**
 * The rules of MoveWatch on a fake clock, for the cases the real-namespace suite does not reach: a
 * container restart in hooks mode, a plugin restart, an allocation whose pod never shows up, a new holder.
 */
import { createLogger } from '../../../plugins/framework';
import { MoveWatch, type PodRef } from '../../../plugins/netdevice/move-watch';

const GRACE = 1000;
const A: PodRef = { pod: 'a', namespace: 'ns', container: 'c' };
const B: PodRef = { pod: 'b', namespace: 'ns', container: 'c' };

function watch() {
  let now = 10_000;
  const lines: Record<string, unknown>[] = [];
  const stuck: string[] = [];
  const w = new MoveWatch({
    graceMs: GRACE,
    cdiMode: 'hooks',
    log: createLogger({ level: 'debug', write: (l) => lines.push(JSON.parse(l)) }),
    onStuck: (id) => stuck.push(id),
    now: () => now,
  });
  return {
    w,
    stuck,
    errors: () => lines.filter((l) => l.level === 'error'),
    advance: (ms: number) => (now += ms),
    at: () => now,
  };
}

const onHost = (...ids: string[]) => new Set(ids);
const held = (...pairs: [string, PodRef][]) => new Map(pairs);

test('the clock starts at Allocate; the holder is seen later; stuck once the grace period is over', () => {
  const t = watch();
  t.w.allocated(['e0']);
  expect(t.w.pending).toBe(true);
  expect(t.w.nextDeadline()).toBe(t.at() + GRACE);
  t.advance(600);
  t.w.update(onHost('e0'), held(['e0', A]));
  expect(t.w.isStuck('e0')).toBe(false);
  t.advance(400);
  t.w.update(onHost('e0'), held(['e0', A]));
  expect(t.w.isStuck('e0')).toBe(true);
  expect(t.stuck).toEqual(['e0']);
  expect(t.errors()).toEqual([expect.objectContaining({ device: 'e0', ...A, secondsSinceAllocation: 1 })]);
  expect(t.w.nextDeadline()).toBeUndefined(); // nothing left to decide
});

test('a link that moved and came back while its pod still holds it (hooks mode restart) is not flagged', () => {
  const t = watch();
  t.w.allocated(['e0']);
  t.w.update(onHost(), held(['e0', A])); // in the pod
  t.advance(5 * GRACE);
  t.w.update(onHost('e0'), held(['e0', A])); // poststop returned it; the next start moves it again
  expect(t.w.isStuck('e0')).toBe(false);
  expect(t.w.nextDeadline()).toBeUndefined();
});

test('after a plugin restart, a held link on the host gets the whole grace period from the first answer', () => {
  const t = watch();
  t.w.update(onHost('e0'), held(['e0', A]));
  expect(t.w.nextDeadline()).toBe(t.at() + GRACE);
  t.advance(GRACE - 1);
  t.w.update(onHost('e0'), held(['e0', A]));
  expect(t.w.isStuck('e0')).toBe(false);
  t.advance(1);
  t.w.update(onHost('e0'), held(['e0', A]));
  expect(t.w.isStuck('e0')).toBe(true);
});

test('an allocation whose pod never shows up is dropped after twice the grace period, never reported', () => {
  const t = watch();
  t.w.allocated(['e0']);
  t.advance(GRACE);
  expect(t.w.nextDeadline()).toBe(t.at() + GRACE); // the drop, not a deadline already past
  t.w.update(onHost('e0'), held());
  expect(t.w.pending).toBe(true);
  t.advance(GRACE);
  t.w.update(onHost('e0'), held());
  expect(t.w.pending).toBe(false);
  expect(t.stuck).toEqual([]);
});

test('a stuck link handed to another pod starts over for the new holder', () => {
  const t = watch();
  t.w.update(onHost('e0'), held(['e0', A]));
  t.advance(GRACE);
  t.w.update(onHost('e0'), held(['e0', A]));
  expect(t.w.isStuck('e0')).toBe(true);
  t.w.update(onHost('e0'), held(['e0', B]));
  expect(t.w.isStuck('e0')).toBe(false);
  expect(t.w.conditions()).toEqual([]);
  t.advance(GRACE);
  t.w.update(onHost('e0'), held(['e0', B]));
  expect(t.w.conditions()).toEqual([
    expect.objectContaining({
      type: 'InterfaceNotMoved',
      device: 'e0',
      message: expect.stringContaining('ns/b'),
    }),
  ]);
  expect(t.stuck).toEqual(['e0', 'e0']);
});
