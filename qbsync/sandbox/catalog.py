"""Which entities the sandbox serves, and what kind each is (name list, transaction, company singleton)."""

from __future__ import annotations

# Name-list entities: never hard-deleted, "deleted" means Active=false, hidden from queries
# unless the WHERE clause mentions Active.
NAME_LISTS = ("Customer", "Vendor", "Employee", "Item", "Class", "Department", "Account", "Term",
              "PaymentMethod", "TaxCode", "CustomerType")
TRANSACTIONS = ("Invoice", "Payment", "SalesReceipt", "CreditMemo", "Estimate", "RefundReceipt",
                "JournalEntry")
SINGLETONS = ("CompanyInfo", "Preferences")
ALL_ENTITIES = NAME_LISTS + TRANSACTIONS + SINGLETONS

# Entities real QuickBooks Online accepts in a query, CDC or batch that the sandbox holds none of
# (python-quickbooks' objects, Intuit's query reference and Singer tap-quickbooks' stream list). A
# query of one answers empty, CDC lists it as ``{}``, a read answers 610 (not found); writes are
# refused as an operation the sandbox does not model.
NOT_HELD = ("Attachable", "Bill", "BillPayment", "Budget", "CompanyCurrency", "CreditCardPayment",
            "Deposit", "ExchangeRate", "InventoryAdjustment", "JournalCode", "Purchase",
            "PurchaseOrder", "RecurringTransaction", "TaxAgency", "TaxClassification", "TaxPayment",
            "TaxRate", "TaxService", "TimeActivity", "Transfer", "VendorCredit")
# Entities QBO's CDC does not cover (Intuit's change-data-capture page); CDC naming them is refused.
NOT_IN_CDC = ("JournalCode", "TaxAgency", "TimeActivity", "TaxRate", "TaxClassification", "TaxPayment",
              "TaxService", "ExchangeRate", "CompanyCurrency", "InventoryAdjustment", "RecurringTransaction")

# DisplayName is unique across these three (QBO's shared "names" namespace).
PEOPLE = ("Customer", "Vendor", "Employee")
# Entities whose name is DisplayName; the other name lists use Name.
DISPLAY_NAME_ENTITIES = PEOPLE

# Entities that contribute to a customer's open balance (a JournalEntry through its lines posted to
# Accounts Receivable with a customer, kept in the store's ``ar_lines`` table).
BALANCE_ENTITIES = ("Invoice", "Payment", "CreditMemo")
AR_ACCOUNT_TYPE = "Accounts Receivable"

_BY_LOWER = {e.lower(): e for e in ALL_ENTITIES}
_QBO_BY_LOWER = {e.lower(): e for e in ALL_ENTITIES + NOT_HELD}


def canonical(name: str) -> str | None:
    """``'invoice'`` -> ``'Invoice'``; None for an entity the sandbox does not serve."""
    return _BY_LOWER.get(name.strip().lower())


def qbo_entity(name: str) -> str | None:
    """Any entity name real QuickBooks accepts (held or not), canonical; None for a misspelling."""
    return _QBO_BY_LOWER.get(name.strip().lower())


def is_held(entity: str) -> bool:
    return entity in ALL_ENTITIES


def in_cdc(entity: str) -> bool:
    """CDC accepts it: any QBO entity but the singletons and those CDC does not cover."""
    return entity not in SINGLETONS and entity not in NOT_IN_CDC


def is_name_list(entity: str) -> bool:
    return entity in NAME_LISTS


def is_transaction(entity: str) -> bool:
    return entity in TRANSACTIONS


def name_field(entity: str) -> str:
    return "DisplayName" if entity in DISPLAY_NAME_ENTITIES else "Name"
