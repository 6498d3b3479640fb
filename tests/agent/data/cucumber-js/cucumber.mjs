// The suite is features/ only: fixtures/ holds a feature file that is not part of it.
export default {
  paths: ['features/**/*.feature'],
  import: ['features/steps/**/*.mjs'],
  format: ['progress'],
  retry: 1,
  retryTagFilter: '@flaky',
};
