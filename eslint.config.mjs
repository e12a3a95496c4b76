// Lint for the whole workspace. The module-boundary rule is the architecture:
// libs depend only on libs, services on libs (never on each other), the CLI on
// services and libs, and tests on anything.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/.nx/**', '**/dist/**', 'infra/kafka/.libs/**', '.tollgate/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mjs'],
    plugins: { '@nx': nx },
    languageOptions: { parserOptions: { ecmaVersion: 'latest', sourceType: 'module' } },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allowCircularSelfDependency: false,
          banTransitiveDependencies: false,
          depConstraints: [
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:service', 'type:lib'] },
            { sourceTag: 'type:test', onlyDependOnLibsWithTags: ['type:app', 'type:service', 'type:lib'] },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read configuration once, through @tollgate/config (loadConfig), at start.' },
      ],
    },
  },
  {
    // The config loader is the one place that reads the environment; tests, benches and the bin shim pass it explicitly.
    files: ['libs/config/src/**/*.ts', 'bin/**', 'test/**/*.ts', '**/*.test.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
