import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tcpdumpArgs } from './tcpdump-source.js';

test('the tcpdump command line: --immediate-mode only when this tcpdump has it, the filter as one argument', () => {
  const options = {
    interfaceName: 'eth0',
    filter: 'ip6 and udp',
    snapLength: 2048,
    tcpdump: 'tcpdump',
    restart: { initial_interval: 1, max_interval: 2 },
  };
  assert.deepEqual(tcpdumpArgs(options, { immediateMode: true }), [
    '-i',
    'eth0',
    '--immediate-mode',
    '-U',
    '-w',
    '-',
    '-s',
    '2048',
    'ip6 and udp',
  ]);
  assert.deepEqual(tcpdumpArgs({ ...options, filter: '' }, { immediateMode: false }), ['-i', 'eth0', '-U', '-w', '-', '-s', '2048']);
});
