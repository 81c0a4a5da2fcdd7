"""Which entities the sandbox serves, and what kind each is (name list, transaction, company singleton)."""

from __future__ import annotations

# Name-list entities: never hard-deleted, "deleted" means Active=false, hidden from queries
# unless the WHERE clause mentions Active.
NAME_LISTS = ("Customer", "Vendor", "Employee", "Item", "Class", "Department", "Account", "Term",
              "PaymentMethod", "TaxCode", "CustomerType")
TRANSACTIONS = ("Invoice", "Payment", "SalesReceipt", "CreditMemo", "Estimate", "RefundReceipt")
SINGLETONS = ("CompanyInfo", "Preferences")
ALL_ENTITIES = NAME_LISTS + TRANSACTIONS + SINGLETONS

# DisplayName is unique across these three (QBO's shared "names" namespace).
PEOPLE = ("Customer", "Vendor", "Employee")
# Entities whose name is DisplayName; the other name lists use Name.
DISPLAY_NAME_ENTITIES = PEOPLE

# Entities that contribute to a customer's open balance.
BALANCE_ENTITIES = ("Invoice", "Payment", "CreditMemo")

_BY_LOWER = {e.lower(): e for e in ALL_ENTITIES}


def canonical(name: str) -> str | None:
    """``'invoice'`` -> ``'Invoice'``; None for an entity the sandbox does not serve."""
    return _BY_LOWER.get(name.strip().lower())


def is_name_list(entity: str) -> bool:
    return entity in NAME_LISTS


def is_transaction(entity: str) -> bool:
    return entity in TRANSACTIONS


def name_field(entity: str) -> str:
    return "DisplayName" if entity in DISPLAY_NAME_ENTITIES else "Name"
