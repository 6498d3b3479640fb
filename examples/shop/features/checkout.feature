@checkout
Feature: Checkout
  An order is placed from a cart, with shipping added to small orders.

  Background:
    Given a cart with 1 "BRD"

  Rule: Small orders pay shipping

    Scenario: Shipping is added below 20.00
      When I check out
      Then the order total is 7.49

  @shipping
  Rule: Large orders ship free

    Background:
      Given the cart also holds 2 "CHS"

    @smoke
    Scenario: No shipping from 20.00
      When I check out
      Then the order total is 17.00
      And no shipping is charged

    Scenario Outline: Out of stock products are refused
      Given the cart also holds <quantity> "<sku>"
      When I check out
      Then checkout fails with "only <stock> of <name> in stock"

      Examples:
        | sku | quantity | stock | name   |
        | WNE | 1        | 0     | Wine   |
        | CHS | 5        | 3     | Cheese |
