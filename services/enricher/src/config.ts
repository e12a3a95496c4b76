// The enricher's slice of the settings (libs/config/src/settings.ts declares each once): the
// common ones, the enricher's own and GeoIP. Parsed once at start; a bad value is a ConfigError
// naming the setting.
import { loadSettings, settings, type Env } from '@tollgate/config';

export type EnricherSettings = ReturnType<typeof loadEnricherSettings>;

export function loadEnricherSettings(env: Env) {
  return { ...loadSettings(settings.common, env), ...loadSettings(settings.enricher, env), ...loadSettings(settings.geoip, env) };
}
