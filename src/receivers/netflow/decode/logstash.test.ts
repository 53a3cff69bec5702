/**
 * Every test context of logstash-codec-netflow's spec (../shared/data/netflow/logstash-codec-netflow/expected):
 * its .dat files fed in order to one TemplateState, the event count checked, and every field of every
 * golden event and every per-field assertion compared with our FlowRecord / options records.
 *
 * logstash emits options data records as events too; we return them in DecodeOutput.options (they are
 * not flows), so "events" below are flows and options records interleaved in wire order.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { INTERNAL_ERROR_MESSAGE } from './decode.js';
import {
  checkLogstashField,
  decodeSequence,
  isoToNanos,
  logstashExpected,
  logstashIndex,
  toJson,
  type DecodedEvent,
  type FieldCheck,
} from './testkit.test.util.js';

/** One accepted difference: why, and a check that the difference is exactly the one explained. */
interface KnownDifference {
  why: string;
  accept(event: DecodedEvent, logstash: unknown): boolean;
}

const flowTime = (e: DecodedEvent, field: string): bigint | undefined =>
  e.kind === 'flow' ? (field === 'first_switched' ? e.record.startUnixNano : e.record.endUnixNano) : undefined;

/**
 * logstash's v9 uptime conversion, `seconds = unix_secs - millis / 1000; micros = 1e6 - (millis % 1000) * 1000`,
 * forgets to borrow the second: whenever the uptime difference is not whole seconds its time is exactly
 * 1 s late. Ours is unix_secs - millis / 1000 (v9.test.ts checks it from the raw bytes).
 */
const V9_SECOND_LATE: KnownDifference = {
  why: 'logstash v9 first/last_switched are 1 s late when the uptime difference has a millisecond part',
  accept: (e, logstash) => {
    const ours = flowTime(e, 'first_switched') !== undefined && typeof logstash === 'string' ? isoToNanos(logstash) : undefined;
    return (
      ours !== undefined &&
      (ours - (flowTime(e, 'first_switched') ?? 0n) === 1_000_000_000n || ours - (flowTime(e, 'last_switched') ?? 0n) === 1_000_000_000n)
    );
  },
};

/**
 * RFC 7011 §6.1.9: the low 11 bits of a dateTimeMicroseconds fraction carry no information and are ignored
 * by the collector; logstash converts all 32 bits, so its time can be up to 2^-21 s (477 ns) later.
 */
const NTP_MICROSECONDS: KnownDifference = {
  why: 'low 11 bits of the NTP fraction ignored (RFC 7011 §6.1.9)',
  accept: (e, logstash) => {
    if (e.kind !== 'flow' || typeof logstash !== 'string') return false;
    const l = isoToNanos(logstash);
    return [e.record.startUnixNano, e.record.endUnixNano].some((ours) => l >= ours && l - ours < 477n);
  },
};

/** Differences that apply to every test of a version: field → difference. */
const KNOWN_BY_VERSION: Record<number, Record<string, KnownDifference>> = {
  9: { first_switched: V9_SECOND_LATE, last_switched: V9_SECOND_LATE },
};

/** Differences of one capture. */
const KNOWN_BY_TEST: Record<string, Record<string, KnownDifference>> = {
  'Netflow 5 valid 01': {
    // softflowd sent first_switched 0xffffffff (1 ms before its uptime origin) and a last_switched after
    // the header's sysUptime. logstash subtracts without 32-bit wrap-around, so the flow starts 49.7 days
    // in the future, and its ms borrow puts last_switched 1 s late. We take the signed 32-bit difference
    // (v5.test.ts checks both values from the raw bytes).
    first_switched: {
      why: 'logstash: no uptime wrap-around',
      accept: (e, l) => typeof l === 'string' && isoToNanos(l) - (flowTime(e, 'first_switched') ?? 0n) === 4_294_967_296_000_000n,
    },
    last_switched: {
      why: 'logstash: 1 s borrow error',
      accept: (e, l) => typeof l === 'string' && isoToNanos(l) - (flowTime(e, 'last_switched') ?? 0n) === 1_000_000_000n,
    },
  },
  'IPFIX Netscaler with variable length fields': {
    flowStartMicroseconds: NTP_MICROSECONDS,
    flowEndMicroseconds: NTP_MICROSECONDS,
  },
  'Netflow 9 nprobe DPI L7': {
    // nprobe pads these fixed-width strings with a NUL and then leftover bytes; Wireshark ends them at the
    // NUL (""), logstash keeps the junk. We end strings at the first NUL, as Wireshark does.
    nprobe_proto_name: {
      why: 'string ends at the first NUL',
      accept: (e) => e.kind === 'flow' && e.record.fields?.nprobe_proto_name === '',
    },
    application_name: { why: 'string ends at the first NUL', accept: (e) => e.kind === 'flow' && e.record.fields?.applicationName === '' },
  },
};

/** logstash fields with no counterpart in a flow record, and why. */
const NOT_MODELLED: Record<string, string> = {
  flowset_id: 'the set a data record came in (a flow record does not carry its template id; options records do)',
  flow_records: 'the v5 header count',
  host: 'logstash event metadata, not NetFlow',
  // Streamcore test: the upstream spec's expected JSON misspells streamcore_id_rule_1 in one event
  reamcore_id_rule_1: 'typo in the upstream spec',
};

function describeEvent(e: DecodedEvent | undefined): string {
  return JSON.stringify(toJson(e?.record)).slice(0, 600);
}

for (const entry of logstashIndex()) {
  const expected = logstashExpected(entry.file);
  const files = [...(expected.template_files ?? []), ...expected.files];
  describe(`logstash: ${entry.test}${expected.config?.cache_save_path ? ' (template caching: templates first)' : ''}`, () => {
    const decoded = decodeSequence(files);
    const knownOfTest = KNOWN_BY_TEST[entry.test] ?? {};

    test('decodes without a decoder error', () => {
      assert.deepEqual(
        decoded.issues.filter((i) => i.message.startsWith(INTERNAL_ERROR_MESSAGE)),
        [],
      );
    });

    if (typeof expected.expected_event_count === 'number') {
      test(`yields ${expected.expected_event_count} events`, () => {
        assert.equal(decoded.events.length, expected.expected_event_count);
      });
    }

    const check = (event: DecodedEvent | undefined, field: string, value: unknown, where: string, problems: string[]): void => {
      if (!event) {
        problems.push(`${where}: no decoded event`);
        return;
      }
      const version = event.record.type === 'netflow_v5' ? 5 : event.record.type === 'netflow_v9' ? 9 : 10;
      const result: FieldCheck = checkLogstashField(event, version, field, value);
      if (result.kind === 'ok') return;
      const known = knownOfTest[field] ?? KNOWN_BY_VERSION[version]?.[field];
      if (result.kind === 'mismatch' && known?.accept(event, value)) return;
      if (result.kind === 'unmapped') {
        if (!(field in NOT_MODELLED)) problems.push(`${where} ${field}: no counterpart in ${describeEvent(event)}`);
        return;
      }
      problems.push(`${where} ${field}: logstash ${JSON.stringify(value)}, ours ${JSON.stringify(toJson(result.ours))}`);
    };

    const events = expected.expected_events_logstash8 ?? [];
    if (events.length > 0) {
      test(`matches the ${events.length} golden event(s) field by field`, () => {
        const problems: string[] = [];
        events.forEach((golden, j) => {
          // upstream compares only the events its index lists (the others in the heredoc are stale there)
          const map = expected.json_event_to_decoded_index;
          const index = map ? map[String(j)] : j;
          if (index === undefined) return;
          const event = decoded.events[index];
          check(event, '@timestamp', golden['@timestamp'], `event ${index}`, problems);
          for (const [field, value] of Object.entries(golden.netflow)) check(event, field, value, `event ${index}`, problems);
        });
        assert.deepEqual(problems, []);
      });
    }

    const assertions = expected.assertions ?? [];
    if (assertions.length > 0) {
      test(`passes the ${assertions.length} field assertion(s)`, () => {
        const problems: string[] = [];
        for (const a of assertions) {
          const field = /^\[netflow\]\[(.+)\]$/.exec(a.path)?.[1] ?? a.path;
          // the spec asserts some times twice, once per logstash precision: either may be the one we print
          if (typeof a.value === 'string' && a.value.includes('#{')) continue;
          const before = problems.length;
          check(decoded.events[a.event_index], field, a.value, `event ${a.event_index}`, problems);
          const precisionVariant = assertions.some(
            (b) => b !== a && b.event_index === a.event_index && b.path === a.path && typeof b.value === 'string',
          );
          if (precisionVariant && problems.length > before) problems.length = before;
        }
        assert.deepEqual(problems, []);
      });
    }
  });
}
