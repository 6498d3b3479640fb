Feature: What cucumber calls each outcome

  Scenario: undefined step
    Given an empty basket
    When I do something nobody defined

  Scenario: pending step
    When I wait for the feature

  Scenario: ambiguous step
    When I am ambiguous

  @before-fails
  Scenario: before hook fails
    Given an empty basket

  @after-fails
  Scenario: after hook fails
    Given an empty basket

  @skip-me
  Scenario: skipped by a hook
    Given an empty basket

  @flaky
  Scenario: passes on cucumber's retry
    Given a step that fails the first time

  @skip-me @cleanup
  Scenario: skipped by a hook, cleaned up after
    Given an empty basket
