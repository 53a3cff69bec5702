/**
 * Decoder state across datagrams, as goflow2/Akvorado keep it: per exporter (the datagram's source), then
 * per (version, observation domain / source id, template id). Holds the compiled templates, what options
 * records said about each domain (sampling, system init time, interface names), sequence-number tracking,
 * and data sets that arrived before their template. Everything is bounded; what falls off is counted.
 */
import type { FieldValue } from '../../../model/flow.js';
import { optionsValues, samplingFromFields, type TemplatePlan } from './plan.js';
import type { IeDef } from './registry.js';
import type { OptionsRecord } from './types.js';
import { readUnsigned } from './values.js';

export interface TemplateStateOptions {
  /** Exporters tracked at once; the least recently active is forgotten beyond this. */
  maxExporters?: number;
  /** Templates per exporter (all versions and domains); the least recently (re)defined is evicted beyond this. */
  maxTemplatesPerExporter?: number;
  /** Observation domains / source ids per exporter. */
  maxDomainsPerExporter?: number;
  /** Options records, interface names and sampler ids kept per domain. */
  maxOptionsPerDomain?: number;
  /** Data sets held per exporter while their template is missing. */
  maxHeldSetsPerExporter?: number;
  /** Bytes of held data sets, all exporters together. */
  maxHeldBytes?: number;
  /** How long a held set waits for its template. */
  maxHeldAgeMs?: number;
  /** Clock in Unix ms (tests inject one). */
  now?: () => number;
}

export const TEMPLATE_STATE_DEFAULTS = {
  maxExporters: 10_000,
  maxTemplatesPerExporter: 4096,
  maxDomainsPerExporter: 1024,
  maxOptionsPerDomain: 4096,
  maxHeldSetsPerExporter: 64,
  maxHeldBytes: 1024 * 1024,
  maxHeldAgeMs: 30_000,
} as const;

/** Counters over the life of a TemplateState. */
export interface DecodeStats {
  /** Datagrams decoded. */
  packets: number;
  /** Flow records returned (an RFC 5103 biflow record counts as two). */
  records: number;
  /** Options data records decoded. */
  optionsRecords: number;
  /** Data sets that arrived before their template (each is then held or dropped). */
  missingTemplate: number;
  /** Data sets held for their template. */
  heldSets: number;
  /** Held sets decoded once their template arrived. */
  heldSetsDecoded: number;
  /** Data sets given up: no template and no room to hold them, held too long, or their exporter forgotten. */
  droppedSets: number;
  /** Discontinuities in an exporter domain's sequence numbers. */
  sequenceGaps: number;
  /** What the forward gaps skipped: v5 flows, v9 packets, IPFIX data records. */
  sequenceLost: number;
  /** Templates known now, all exporters. */
  templates: number;
  /** Templates evicted to stay within maxTemplatesPerExporter. */
  templatesEvicted: number;
  /** Templates withdrawn by IPFIX template withdrawals. */
  templatesWithdrawn: number;
  /** Template records that could not be used. */
  badTemplates: number;
  /** Exporters known now. */
  exporters: number;
  /** Exporters forgotten to stay within maxExporters. */
  exportersEvicted: number;
  /** Issues returned, all codes. */
  issues: number;
}

/** What the decoders know about one observation domain of one exporter. */
export class DomainState {
  /** The sequence number the next packet should carry; -1 when unknown. */
  nextSequence = -1;
  /** The latest 1-in-N rate an options record announced for the domain; 0 when none. */
  samplingRate = 0;
  /** Rates by sampler / selector id (samplerId, selectorId). */
  readonly samplerRates = new Map<number, number>();
  /** systemInitTimeMilliseconds from an options record, for flowStart/EndSysUpTime; -1 when unknown. */
  systemInitTimeMs = -1;
  /** ifIndex → interfaceName (or interfaceDescription) from options records. */
  readonly interfaceNames = new Map<number, string>();
  /** The latest options record per (template, scope values). */
  readonly options = new Map<string, OptionsRecord>();

  constructor(private readonly maxEntries: number) {}

  /** Takes what an options record says about sampling, time and interfaces. */
  applyOptions(plan: TemplatePlan, view: DataView, start: number, record: OptionsRecord): void {
    let interval = -1;
    let randomInterval = -1;
    let packetInterval = -1;
    let packetSpace = -1;
    let size = -1;
    let population = -1;
    let probability = -1;
    let samplerId = -1;
    let ifIndex = -1;
    let ifName: FieldValue | undefined;
    let ifDescription: FieldValue | undefined;
    let systemInit = -1;
    optionsValues(plan, view, start, (def: IeDef, off: number, len: number) => {
      if (def.reverse) return;
      // v9 "Interface" scope: the record is about that ifIndex
      if (def.ianaId < 0) {
        if (def.name === 'scopeInterface') ifIndex = readUnsigned(view, off, len);
        return;
      }
      switch (def.ianaId) {
        case 34:
          interval = readUnsigned(view, off, len);
          break;
        case 50:
          randomInterval = readUnsigned(view, off, len);
          break;
        case 305:
          packetInterval = readUnsigned(view, off, len);
          break;
        case 306:
          packetSpace = readUnsigned(view, off, len);
          break;
        case 309:
          size = readUnsigned(view, off, len);
          break;
        case 310:
          population = readUnsigned(view, off, len);
          break;
        case 311:
          if (len === 8) probability = view.getFloat64(off);
          else if (len === 4) probability = view.getFloat32(off);
          break;
        case 48:
        case 302:
          samplerId = readUnsigned(view, off, len);
          break;
        case 160:
          systemInit = readUnsigned(view, off, len);
          break;
        case 10:
        case 14:
          if (ifIndex < 0) ifIndex = readUnsigned(view, off, len);
          break;
        case 82:
          ifName = def.name in record.fields ? record.fields[def.name] : record.scope[def.name];
          break;
        case 83:
          ifDescription = def.name in record.fields ? record.fields[def.name] : record.scope[def.name];
          break;
      }
    });
    const rate =
      interval > 0
        ? interval
        : randomInterval > 0
          ? randomInterval
          : samplingFromFields(packetInterval, packetSpace, size, population, probability);
    if (rate > 0) {
      this.samplingRate = rate;
      if (samplerId >= 0) boundedSet(this.samplerRates, samplerId, rate, this.maxEntries);
    }
    if (systemInit > 0) this.systemInitTimeMs = systemInit;
    const name = typeof ifName === 'string' && ifName !== '' ? ifName : ifDescription;
    if (ifIndex >= 0 && typeof name === 'string' && name !== '') boundedSet(this.interfaceNames, ifIndex, name, this.maxEntries);
    boundedSet(this.options, `${record.templateId}|${Object.values(record.scope).map(String).join('|')}`, record, this.maxEntries);
  }
}

/** Map.set that keeps at most `max` entries, dropping the oldest insertion. */
function boundedSet<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  if (map.has(key)) map.delete(key);
  else if (map.size >= max) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}

/** The export packet header of a held set, to decode it later as if it had just arrived. */
export interface HeldHeader {
  readonly version: 9 | 10;
  readonly domainId: number;
  readonly sequenceNumber: number;
  readonly exportMs: number;
  readonly sysUptimeMs: number;
}

export interface HeldSet {
  readonly exporter: ExporterState;
  readonly templateKey: number;
  readonly templateId: number;
  readonly header: HeldHeader;
  /** A copy of the set body (the datagram buffer is not ours to keep). */
  readonly body: Uint8Array;
  /** Where the set body was in its datagram. */
  readonly offset: number;
  readonly receivedAtMs: number;
  /** Decoded, expired or dropped: no longer waiting (the age queue skips it). */
  done: boolean;
}

export class ExporterState {
  /** Compiled templates by templateKey(); insertion order is (re)definition order, oldest first. */
  readonly templates = new Map<number, TemplatePlan>();
  readonly domains = new Map<number, DomainState>();
  held: HeldSet[] = [];

  constructor(readonly name: string) {}
}

/** One key for (version, domain, template id): exact in a double (< 2^50). */
export function templateKey(version: number, domainId: number, templateId: number): number {
  return (version === 10 ? 2 ** 48 : 0) + domainId * 65536 + templateId;
}

function domainKey(version: number, domainId: number): number {
  return version * 4294967296 + domainId;
}

export class TemplateState {
  readonly stats: DecodeStats = {
    packets: 0,
    records: 0,
    optionsRecords: 0,
    missingTemplate: 0,
    heldSets: 0,
    heldSetsDecoded: 0,
    droppedSets: 0,
    sequenceGaps: 0,
    sequenceLost: 0,
    templates: 0,
    templatesEvicted: 0,
    templatesWithdrawn: 0,
    badTemplates: 0,
    exporters: 0,
    exportersEvicted: 0,
    issues: 0,
  };
  readonly limits: Readonly<Required<Omit<TemplateStateOptions, 'now'>>>;
  readonly now: () => number;
  private readonly exporters = new Map<string, ExporterState>();
  private lastExporter: ExporterState | undefined;
  private heldBytes = 0;
  private heldCount = 0;
  /** Every held set in arrival order, so expiry looks only at the oldest ones; `heldHead` is the first live slot. */
  private heldQueue: HeldSet[] = [];
  private heldHead = 0;

  constructor(options: TemplateStateOptions = {}) {
    const { now, ...limits } = options;
    this.limits = { ...TEMPLATE_STATE_DEFAULTS, ...limits };
    this.now = now ?? Date.now;
  }

  /** The state of an exporter, created on first sight (evicting the least recently active one if full). */
  exporter(name: string): ExporterState {
    const last = this.lastExporter;
    if (last !== undefined && last.name === name) return last;
    let exp = this.exporters.get(name);
    if (exp) {
      // keep Map order = recency, so eviction takes the longest-silent exporter
      this.exporters.delete(name);
    } else {
      if (this.exporters.size >= this.limits.maxExporters) {
        const oldest = this.exporters.keys().next();
        if (!oldest.done) {
          this.forgetExporter(oldest.value);
          this.stats.exportersEvicted++;
        }
      }
      exp = new ExporterState(name);
      this.stats.exporters++;
    }
    this.exporters.set(name, exp);
    this.lastExporter = exp;
    return exp;
  }

  /** The domain state (created on first use; beyond the per-exporter limit a throwaway one is returned). */
  domain(exp: ExporterState, version: number, domainId: number): DomainState {
    const key = domainKey(version, domainId);
    let d = exp.domains.get(key);
    if (!d) {
      d = new DomainState(this.limits.maxOptionsPerDomain);
      if (exp.domains.size < this.limits.maxDomainsPerExporter) exp.domains.set(key, d);
    }
    return d;
  }

  getTemplate(exp: ExporterState, key: number): TemplatePlan | undefined {
    return exp.templates.get(key);
  }

  /** Adds or replaces a template (evicting the least recently defined one when the exporter is full). */
  putTemplate(exp: ExporterState, key: number, plan: TemplatePlan): void {
    const had = exp.templates.delete(key);
    if (!had) {
      if (exp.templates.size >= this.limits.maxTemplatesPerExporter) {
        const oldest = exp.templates.keys().next();
        if (!oldest.done) {
          exp.templates.delete(oldest.value);
          this.stats.templatesEvicted++;
          this.stats.templates--;
        }
      }
      this.stats.templates++;
    }
    exp.templates.set(key, plan);
  }

  /** Moves a refreshed template to the recent end without recompiling it. */
  touchTemplate(exp: ExporterState, key: number, plan: TemplatePlan): void {
    exp.templates.delete(key);
    exp.templates.set(key, plan);
  }

  withdrawTemplate(exp: ExporterState, key: number): boolean {
    if (!exp.templates.delete(key)) return false;
    this.stats.templates--;
    this.stats.templatesWithdrawn++;
    return true;
  }

  /** RFC 7011 §8.1 "withdraw all": every data (or options) template of one domain. */
  withdrawAll(exp: ExporterState, version: 9 | 10, domainId: number, options: boolean): number {
    let n = 0;
    for (const [key, plan] of exp.templates) {
      if (plan.version === version && plan.domainId === domainId && plan.options === options) {
        exp.templates.delete(key);
        n++;
      }
    }
    this.stats.templates -= n;
    this.stats.templatesWithdrawn += n;
    return n;
  }

  /**
   * Keeps a data set until its template arrives (copying its body: the datagram buffer is not ours); false,
   * and counted as dropped, when there is no room.
   */
  hold(exp: ExporterState, set: Omit<HeldSet, 'exporter' | 'receivedAtMs' | 'done'>): boolean {
    if (this.heldCount > 0) this.expireHeld();
    const size = set.body.length;
    if (exp.held.length >= this.limits.maxHeldSetsPerExporter || this.heldBytes + size > this.limits.maxHeldBytes) {
      this.stats.droppedSets++;
      return false;
    }
    const held: HeldSet = { ...set, body: set.body.slice(), exporter: exp, receivedAtMs: this.now(), done: false };
    exp.held.push(held);
    this.heldQueue.push(held);
    this.heldBytes += size;
    this.heldCount++;
    this.stats.heldSets++;
    return true;
  }

  /** Takes the held sets a new template can decode, oldest first. */
  takeHeld(exp: ExporterState, key: number): HeldSet[] {
    if (exp.held.length === 0) return [];
    this.expireHeld();
    const taken = exp.held.filter((h) => h.templateKey === key);
    if (taken.length === 0) return taken;
    exp.held = exp.held.filter((h) => h.templateKey !== key);
    for (const h of taken) this.release(h);
    this.compactHeld();
    this.stats.heldSetsDecoded += taken.length;
    return taken;
  }

  /** Drops held sets older than maxHeldAgeMs; returns how many. Decoders call it as they go: O(expired). */
  expireHeld(): number {
    if (this.heldCount === 0) return 0;
    const cutoff = this.now() - this.limits.maxHeldAgeMs;
    const queue = this.heldQueue;
    let dropped = 0;
    while (this.heldHead < queue.length) {
      const h = queue[this.heldHead] as HeldSet;
      if (!h.done) {
        if (h.receivedAtMs >= cutoff) break;
        h.exporter.held = h.exporter.held.filter((x) => x !== h);
        this.release(h);
        dropped++;
      }
      this.heldHead++;
    }
    this.compactHeld();
    this.stats.droppedSets += dropped;
    return dropped;
  }

  /** Whether any data set is waiting for its template. */
  get heldSetsWaiting(): number {
    return this.heldCount;
  }

  private release(h: HeldSet): void {
    h.done = true;
    this.heldBytes -= h.body.length;
    this.heldCount--;
  }

  /** Trims the age queue of what is no longer waiting. */
  private compactHeld(): void {
    if (this.heldCount === 0) {
      this.heldQueue = [];
      this.heldHead = 0;
    } else if (this.heldHead > 1024 && this.heldHead * 2 > this.heldQueue.length) {
      this.heldQueue = this.heldQueue.slice(this.heldHead);
      this.heldHead = 0;
    }
  }

  /**
   * Sequence-number bookkeeping for one domain: `advance` is how many units this packet accounts for
   * (v5 flows, one v9 packet, IPFIX data records), -1 when unknown (the next packet then starts afresh).
   */
  trackSequence(domain: DomainState, sequence: number, advance: number): void {
    const expected = domain.nextSequence;
    if (expected >= 0 && sequence !== expected) {
      this.stats.sequenceGaps++;
      const skipped = (sequence - expected) >>> 0;
      // a forward jump loses what it skips; a backward one (reordering, exporter restart) loses nothing known
      if (skipped < 0x80000000) this.stats.sequenceLost += skipped;
    }
    domain.nextSequence = advance >= 0 ? (sequence + advance) >>> 0 : -1;
  }

  /** Forgets an exporter: its templates, domains and held sets (dropped, counted). */
  forgetExporter(name: string): void {
    const exp = this.exporters.get(name);
    if (!exp) return;
    this.stats.templates -= exp.templates.size;
    for (const h of exp.held) this.release(h);
    this.compactHeld();
    this.stats.droppedSets += exp.held.length;
    this.exporters.delete(name);
    this.stats.exporters--;
    if (this.lastExporter === exp) this.lastExporter = undefined;
  }

  // ---- read access for the receiver, the CLI and tests

  exporterNames(): string[] {
    return [...this.exporters.keys()];
  }

  templateCount(exporter?: string): number {
    if (exporter === undefined) return this.stats.templates;
    return this.exporters.get(exporter)?.templates.size ?? 0;
  }

  templates(exporter: string): TemplatePlan[] {
    return [...(this.exporters.get(exporter)?.templates.values() ?? [])];
  }

  private knownDomain(exporter: string, version: number, domainId: number): DomainState | undefined {
    return this.exporters.get(exporter)?.domains.get(domainKey(version, domainId));
  }

  /** The 1-in-N rate options records announced (for `samplerId` if given and known); 0 when unknown. */
  samplingRate(exporter: string, version: 9 | 10, domainId: number, samplerId?: number): number {
    const d = this.knownDomain(exporter, version, domainId);
    if (!d) return 0;
    return (samplerId === undefined ? undefined : d.samplerRates.get(samplerId)) ?? d.samplingRate;
  }

  /** An interface's name from options records (interfaceName, else interfaceDescription). */
  interfaceName(exporter: string, version: 9 | 10, domainId: number, ifIndex: number): string | undefined {
    return this.knownDomain(exporter, version, domainId)?.interfaceNames.get(ifIndex);
  }

  /** systemInitTimeMilliseconds an options record announced; undefined when none. */
  systemInitTimeMs(exporter: string, version: 9 | 10, domainId: number): number | undefined {
    const t = this.knownDomain(exporter, version, domainId)?.systemInitTimeMs;
    return t === undefined || t < 0 ? undefined : t;
  }

  /** The latest options records of a domain, one per (template, scope). */
  optionsRecords(exporter: string, version: 9 | 10, domainId: number): OptionsRecord[] {
    return [...(this.knownDomain(exporter, version, domainId)?.options.values() ?? [])];
  }
}
