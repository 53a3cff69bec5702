import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pathOrder } from './devices.js';
import type { FlowGroup } from './match.js';
import type { FlowRecord } from '../../model/flow.js';

const flow = (startUnixNano: bigint, nextHop = ''): FlowRecord =>
  ({ startUnixNano, endUnixNano: startUnixNano, nextHop }) as unknown as FlowRecord;
const group = (exporter: string, start: bigint, nextHop = ''): FlowGroup => ({
  exporter,
  direction: 'response',
  flows: [flow(start, nextHop)],
});
const noInventory = { ownerOf: () => undefined } as never;

test('without next hops, the preferred order (the reversed request path) orders a response path whose times are equal', () => {
  const groups = [group('10.0.0.1', 5n), group('10.0.0.2', 5n)];
  assert.deepEqual(
    pathOrder(groups, noInventory, ['10.0.0.2', '10.0.0.1']).map((g) => g.exporter),
    ['10.0.0.2', '10.0.0.1'],
  );
  // Without a preference, time then address decide.
  assert.deepEqual(
    pathOrder(groups, noInventory).map((g) => g.exporter),
    ['10.0.0.1', '10.0.0.2'],
  );
});

test('the preference outranks flow start times, and devices it does not name fall back to time', () => {
  const groups = [group('10.0.0.1', 1n), group('10.0.0.3', 2n), group('10.0.0.2', 9n)];
  assert.deepEqual(
    pathOrder(groups, noInventory, ['10.0.0.2', '10.0.0.1']).map((g) => g.exporter),
    ['10.0.0.2', '10.0.0.1', '10.0.0.3'],
  );
});
