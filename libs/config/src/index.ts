export * from './config.ts';
export * as settings from './settings.ts';
export { allSettings, settingsTable } from './settings.ts';
