# language: fr
@fr
Fonctionnalité: Panier

  Plan du Scénario: ajouter <n> poires
    Soit un panier vide
    Quand j'ajoute <n> poires
    Alors le panier contient <n> articles

    Exemples:
      | n |
      | 2 |
      | 5 |
