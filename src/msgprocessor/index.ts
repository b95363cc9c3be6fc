export * from './filters.js';
export * from './processor.js';
export { maintenanceFilter, FABRIC_MIGRATION_TARGETS } from './maintenance.js';
export type { MaintenanceFilterOptions, MaintenanceFilterDeps } from './maintenance.js';
