// The agent's slice of the settings (libs/config settings.ts): parsed once, validated there.
import { hostname } from 'node:os';
import { loadSettings, settings, type Env } from '@tollgate/config';

export type AgentConfig = ReturnType<typeof loadAgentConfig>;

/** The agent's settings plus the cluster name; TOLLGATE_NODE_NAME defaults to the hostname (kernel source). */
export function loadAgentConfig(env: Env, overrides: { output?: 'kafka' | 'stdout' } = {}) {
  const a = loadSettings(settings.agent, env);
  const c = loadSettings(settings.common, env);
  return { ...a, cluster: c.cluster, output: overrides.output ?? a.output, nodeName: a.nodeName || (a.source === 'conntrack' ? hostname() : '') };
}
