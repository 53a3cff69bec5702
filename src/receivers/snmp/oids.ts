/**
 * The numeric OIDs the receiver reads (no MIB files): SNMPv2-MIB sysUpTime, IF-MIB ifTable and
 * ifXTable columns, HOST-RESOURCES-MIB hrProcessorLoad and hrStorage.
 */

export const SYS_UPTIME = '1.3.6.1.2.1.1.3.0';

const IF_ENTRY = '1.3.6.1.2.1.2.2.1';
const IFX_ENTRY = '1.3.6.1.2.1.31.1.1.1';
const HR_STORAGE_ENTRY = '1.3.6.1.2.1.25.2.3.1';

/** The table columns walked on every poll, by the name the parser uses. */
export const COLUMNS = {
  ifDescr: `${IF_ENTRY}.2`,
  ifSpeed: `${IF_ENTRY}.5`,
  ifOperStatus: `${IF_ENTRY}.8`,
  ifInOctets: `${IF_ENTRY}.10`,
  ifInDiscards: `${IF_ENTRY}.13`,
  ifInErrors: `${IF_ENTRY}.14`,
  ifOutOctets: `${IF_ENTRY}.16`,
  ifOutDiscards: `${IF_ENTRY}.19`,
  ifOutErrors: `${IF_ENTRY}.20`,
  ifName: `${IFX_ENTRY}.1`,
  ifHCInOctets: `${IFX_ENTRY}.6`,
  ifHCOutOctets: `${IFX_ENTRY}.10`,
  ifHighSpeed: `${IFX_ENTRY}.15`,
  ifAlias: `${IFX_ENTRY}.18`,
  hrProcessorLoad: '1.3.6.1.2.1.25.3.3.1.2',
  hrStorageType: `${HR_STORAGE_ENTRY}.2`,
  hrStorageAllocationUnits: `${HR_STORAGE_ENTRY}.4`,
  hrStorageSize: `${HR_STORAGE_ENTRY}.5`,
  hrStorageUsed: `${HR_STORAGE_ENTRY}.6`,
} as const;

export type ColumnName = keyof typeof COLUMNS;

/** hrStorageType of RAM (HOST-RESOURCES-TYPES hrStorageRam). */
export const HR_STORAGE_RAM = '1.3.6.1.2.1.25.2.1.2';
