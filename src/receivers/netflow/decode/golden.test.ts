/**
 * Golden files: the complete decoder output for a few captures (v5, v9, IPFIX with options and
 * sysUpTime, IPFIX with variable-length enterprise elements). Rewritten only with UPDATE_GOLDEN=1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { repoPath } from '../../../testutil/index.js';
import { decodeNetflow } from './decode.js';
import { TemplateState } from './templates.js';
import { CTX, datFile, toJson } from './testkit.test.util.js';

const TESTDATA = repoPath('src', 'receivers', 'netflow', 'decode', 'testdata');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const CASES: Record<string, string[]> = {
  'netflow5-mikrotik': ['netflow5_test_microtik.dat'],
  'netflow9-cisco-asr9k-260': ['netflow9_test_cisco_asr9k_tpl260.dat', 'netflow9_test_cisco_asr9k_data260.dat'],
  'ipfix-options-sysuptime': ['ipfix.dat'],
  'ipfix-netscaler-varlen': ['ipfix_test_netscaler_tpl.dat', 'ipfix_test_netscaler_data.dat'],
};

for (const [name, files] of Object.entries(CASES)) {
  test(`golden: ${name}`, () => {
    const state = new TemplateState({ now: () => 0 });
    const datagrams = files.map((file) => {
      const out = decodeNetflow(datFile(file), CTX, state);
      return { file, records: out.records, options: out.options, issues: out.issues };
    });
    const actual = toJson({ datagrams, stats: state.stats });
    const path = `${TESTDATA}/${name}.golden.json`;
    if (UPDATE) writeFileSync(path, `${JSON.stringify(actual, null, 1)}\n`);
    assert.ok(existsSync(path), `${path} missing: run with UPDATE_GOLDEN=1 to create it`);
    assert.deepEqual(actual, JSON.parse(readFileSync(path, 'utf8')));
  });
}
