@basket
Feature: Basket

  Background:
    Given an empty basket

  @smoke
  Scenario: add one item
    When I add 1 "apple"
    Then the basket holds 1 items

  Scenario Outline: add <n> of <item>
    When I add <n> "<item>"
    Then the basket holds <expected> items

    @fast
    Examples: right totals
      | n | item | expected |
      | 1 | pear | 1        |
      | 2 | plum | 2        |

    @wrong
    Examples: wrong totals
      | n | item | expected |
      | 3 | fig  | 4        |

  @discounts
  Rule: discounts apply to whole baskets
    Background:
      Given a discount "HALF"

    Scenario: half price
      When I add these:
        | item  | n |
        | apple | 2 |
      Then the total is:
        """
        1.00
        """
