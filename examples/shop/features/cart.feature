@cart
Feature: Shopping cart
  Shoppers collect products in a cart and see its total before checking out.

  Background:
    Given an empty cart

  @smoke
  Scenario: Adding a product shows its price
    When I add 1 "APL" to the cart
    Then the cart total is 0.50

  Scenario: Removing a product empties the line
    Given the cart holds 2 "BRD"
    When I remove "BRD"
    Then the cart is empty

  @discounts
  Scenario Outline: Discount code <code> lowers the total
    Given the cart holds <quantity> "<sku>"
    When I apply the code "<code>"
    Then the cart total is <total>

    @smoke
    Examples: Common codes
      | sku | quantity | code      | total |
      | BRD | 4        | WELCOME10 | 9.00  |
      | CHS | 2        | HALF      | 7.25  |

    @staff @slow
    Examples: Staff codes
      | sku | quantity | code  | total |
      | APL | 10       | STAFF | 3.50  |
