// Lint for the whole workspace. The module-boundary rule is the architecture:
// libs depend only on libs, services on libs (never on each other), the CLI on
// services and libs, and tests on anything; the simulated cluster only where SIM_ALLOWED says.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

// The simulated cluster (libs/sim, tag type:testing) is for tests, benchmarks and the simulated
// sources; production code reaches it only through the CLI's one sim module.
const SIM_ALLOWED = ['**/*.test.ts', '**/*.testkit.ts', '**/*.bench.ts', 'test/**/*.ts', 'services/cli/src/sim.ts', 'libs/sim/src/**/*.ts'];

function boundaries(simAllowed) {
  const testing = simAllowed ? ['type:testing'] : [];
  return {
    enforceBuildableLibDependency: false,
    allowCircularSelfDependency: false,
    banTransitiveDependencies: false,
    depConstraints: [
      { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib', ...testing] },
      { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:lib', 'type:testing'] },
      { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:lib', ...testing] },
      { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:service', 'type:lib', ...testing] },
      { sourceTag: 'type:test', onlyDependOnLibsWithTags: ['type:app', 'type:service', 'type:lib', 'type:testing'] },
    ],
  };
}

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/.nx/**', '**/dist/**', 'infra/kafka/.libs/**', '.tollgate/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mjs'],
    plugins: { '@nx': nx },
    languageOptions: { parserOptions: { ecmaVersion: 'latest', sourceType: 'module' } },
    rules: {
      '@nx/enforce-module-boundaries': ['error', boundaries(false)],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read configuration once, through @tollgate/config (loadConfig), at start.' },
      ],
    },
  },
  {
    files: SIM_ALLOWED,
    rules: { '@nx/enforce-module-boundaries': ['error', boundaries(true)] },
  },
  {
    // The config loader is the one place that reads the environment; tests, benches and the entry
    // points (the bin shim, the Superset bundle builder) pass it explicitly.
    files: ['libs/config/src/**/*.ts', 'bin/**', 'infra/superset/bundle.ts', 'test/**/*.ts', '**/*.test.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
