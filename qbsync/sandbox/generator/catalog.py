"""The company's own lists: CompanyInfo, Preferences, Items, Departments (locations), Classes, terms."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from . import pooldata
from .render import CURRENCY, meta, money, ref
from .spec import CompanySpec

TERMS: tuple[tuple[str, str, int], ...] = (
    ("1", "Due on receipt", 0),
    ("2", "Net 15", 15),
    ("3", "Net 30", 30),
    ("4", "Net 60", 60),
)
PAYMENT_METHODS: tuple[tuple[str, str], ...] = (
    ("1", "Cash"),
    ("2", "Check"),
    ("3", "Visa"),
    ("4", "MasterCard"),
    ("5", "ACH"),
)
DEPOSIT_ACCOUNT = ref("4", "Undeposited Funds")
INCOME_ACCOUNT = ref("79", "Sales of Product Income")
SERVICE_ACCOUNT = ref("1", "Services")
# name, type, unit price in cents
_ITEMS: tuple[tuple[str, str, int], ...] = (
    ("Consulting Hour", "Service", 12500),
    ("Design", "Service", 7500),
    ("Installation", "Service", 5000),
    ("Maintenance Visit", "Service", 9500),
    ("Repair", "Service", 6500),
    ("Training Session", "Service", 18000),
    ("Delivery", "Service", 2500),
    ("Annual Service Plan", "Service", 48000),
    ("Site Survey", "Service", 22000),
    ("Gardening", "Service", 3500),
    ("Pest Control", "Service", 7000),
    ("Cleaning", "Service", 4500),
    ("Widget Standard", "NonInventory", 1999),
    ("Widget Deluxe", "NonInventory", 3999),
    ("Filter Pack", "NonInventory", 1250),
    ("Replacement Part", "NonInventory", 850),
    ("Sprinkler Head", "NonInventory", 1575),
    ("Pump", "NonInventory", 28900),
    ("Fountain", "NonInventory", 110000),
    ("Rock Garden Kit", "NonInventory", 4200),
    ("Soil Bag", "NonInventory", 1000),
    ("Lighting Kit", "NonInventory", 16500),
    ("Gift Card", "NonInventory", 5000),
    ("Coffee Beans 1kg", "NonInventory", 2400),
)
_LOCATIONS = ("Downtown", "Harbor", "Airport", "Online", "Northside", "Riverside", "Eastgate", "Old Town")
_CLASSES = (
    ("Retail", None),
    ("Wholesale", None),
    ("Services", None),
    ("Installation", "Services"),
    ("Repairs", "Services"),
)


@dataclass(frozen=True)
class Catalog:
    """Ids and prices the transactions refer to."""

    items: tuple[tuple[str, str, int], ...]  # (Id, Name, unit price cents)
    departments: tuple[tuple[str, str], ...]  # (Id, FullyQualifiedName)
    classes: tuple[tuple[str, str], ...]  # (Id, FullyQualifiedName)


def _list_meta(start: int, offset: str) -> dict[str, str]:
    return meta((start, 32400), (start, 32400), offset)


def _listed(fields: dict[str, Any], id_: str, start: int, offset: str) -> dict[str, Any]:
    """``fields`` as QuickBooks answers them: with the object's Id, SyncToken 0 and its times."""
    return {**fields, "domain": "QBO", "sparse": False, "Id": id_, "SyncToken": "0",
            "MetaData": _list_meta(start, offset)}


def build_catalog(spec: CompanySpec) -> tuple[Catalog, dict[str, list[dict[str, Any]]]]:
    """The catalog and its QBO objects (Item, Department, Class), ready for bulk_load."""
    start, off = spec.start_date.toordinal() - 30, spec.tz_offset
    items, item_objs = [], []
    for i, (name, typ, price) in enumerate(_ITEMS, start=1):
        items.append((str(i), name, price))
        item_objs.append(
            _listed({
                "Name": name,
                "Description": name,
                "Active": True,
                "FullyQualifiedName": name,
                "Taxable": False,
                "UnitPrice": money(price),
                "Type": typ,
                "IncomeAccountRef": SERVICE_ACCOUNT if typ == "Service" else INCOME_ACCOUNT,
                "PurchaseCost": 0,
                "TrackQtyOnHand": False,
            }, str(i), start, off)
        )
    n_loc = max(1, min(spec.locations, len(_LOCATIONS)))
    departments, dept_objs = [], []
    for i, name in enumerate(_LOCATIONS[:n_loc], start=1):
        departments.append((str(i), name))
        dept_objs.append(
            _listed({
                "Name": name,
                "SubDepartment": False,
                "FullyQualifiedName": name,
                "Active": True,
            }, str(i), start, off)
        )
    if n_loc >= 2:  # one sub-location, as bigger companies have
        sub_id = str(n_loc + 1)
        parent_id, parent_name = departments[-1]
        fq = f"{parent_name}:Kiosk"
        departments.append((sub_id, fq))
        dept_objs.append(
            _listed({
                "Name": "Kiosk",
                "SubDepartment": True,
                "ParentRef": ref(parent_id),
                "FullyQualifiedName": fq,
                "Active": True,
            }, sub_id, start, off)
        )
    classes, class_objs = [], []
    ids: dict[str, str] = {}
    for i, (name, parent) in enumerate(_CLASSES, start=1):
        fq = f"{parent}:{name}" if parent else name
        ids[name] = str(i)
        classes.append((str(i), fq))
        obj: dict[str, Any] = _listed({
            "Name": name,
            "SubClass": parent is not None,
            "FullyQualifiedName": fq,
            "Active": True,
        }, str(i), start, off)
        if parent:
            obj["ParentRef"] = ref(ids[parent])
        class_objs.append(obj)
    catalog = Catalog(tuple(items), tuple(departments), tuple(classes))
    return catalog, {"Item": item_objs, "Department": dept_objs, "Class": class_objs}


def company_info(spec: CompanySpec) -> dict[str, Any]:
    rng = random.Random(spec.seed)

    def one(field: str) -> str:
        return pooldata.draw(rng, "US", field, 1)[0]

    last_name = one("family")
    name = spec.company_name or f"{last_name} {rng.choice(['Garden Supply', 'Home Services', 'Trading'])}"
    start = spec.start_date.toordinal() - 30
    addr = {
        "Id": "1",
        "Line1": f"{one('numbers')} {one('streets')}",
        "City": one("cities"),
        "CountrySubDivisionCode": one("subdivisions"),
        "PostalCode": one("postcodes"),
        "Country": "US",
    }
    return _listed({
        "CompanyName": name,
        "LegalName": name,
        "CompanyAddr": addr,
        "CustomerCommunicationAddr": dict(addr),
        "LegalAddr": dict(addr),
        "PrimaryPhone": {"FreeFormNumber": "(650) 555-0100"},
        "CompanyStartDate": spec.start_date.isoformat(),
        "FiscalYearStartMonth": "January",
        "Country": "US",
        "Email": {"Address": "books@" + "".join(ch for ch in name.lower() if ch.isalnum()) + ".com"},
        "SupportedLanguages": "en",
        "NameValue": [],
    }, "1", start, spec.tz_offset)


def preferences(spec: CompanySpec) -> dict[str, Any]:
    return _listed({
        "AccountingInfoPrefs": {
            "TrackDepartments": True,
            "DepartmentTerminology": "Location",
            "ClassTrackingPerTxn": True,
            "ClassTrackingPerTxnLine": False,
            "CustomerTerminology": "Customers",
        },
        "SalesFormsPrefs": {
            "AllowDeposit": False,
            "AllowDiscount": True,
            "DefaultTerms": ref("3"),
            "EstimateMessage": "Thank you for the opportunity.",
            "UsingProgressInvoicing": False,
        },
        "CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": CURRENCY["value"]}},
        "ProductAndServicesPrefs": {"ForSales": True, "ForPurchase": True, "QuantityWithPriceAndRate": True},
    }, "1", spec.start_date.toordinal() - 30, spec.tz_offset)


# A small chart of accounts and a sales tax code, emitted for companies with everyday edits (discount,
# tax, refund and journal-entry lines refer to them). Ids as in Intuit's sample company.
_ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    ("1", "Services", "Income", "ServiceFeeIncome"),
    ("4", "Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ("35", "Checking", "Bank", "Checking"),
    ("79", "Sales of Product Income", "Income", "SalesOfProductIncome"),
    ("84", "Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
    ("86", "Discounts given", "Income", "DiscountsRefundsGiven"),
    ("89", "Board of Equalization Payable", "Other Current Liability", "SalesTaxPayable"),
    ("90", "Bad Debts", "Expense", "BadDebts"),
    ("91", "Finance Charge Income", "Other Income", "OtherMiscellaneousIncome"),
)


def bookkeeping_lists(spec: CompanySpec) -> dict[str, list[dict[str, Any]]]:
    start, off = spec.start_date.toordinal() - 30, spec.tz_offset
    accounts = [
        _listed({
            "Name": name,
            "SubAccount": False,
            "FullyQualifiedName": name,
            "Active": True,
            "Classification": "Asset" if typ in ("Bank", "Accounts Receivable", "Other Current Asset")
            else "Liability" if "Liability" in typ else "Expense" if typ == "Expense" else "Revenue",
            "AccountType": typ,
            "AccountSubType": sub,
            "CurrentBalance": 0,
            "CurrentBalanceWithSubAccounts": 0,
            "CurrencyRef": CURRENCY,
        }, aid, start, off)
        for aid, name, typ, sub in _ACCOUNTS
    ]
    tax = _listed({
        "Name": "California",
        "Description": "California sales tax, 8.25 %",
        "Active": True,
        "Taxable": True,
        "TaxGroup": True,
        "SalesTaxRateList": {"TaxRateDetail": [{"TaxRateRef": ref("3", "California"), "TaxTypeApplicable":
                                                "TaxOnAmount", "TaxOrder": 0}]},
        "PurchaseTaxRateList": {"TaxRateDetail": []},
    }, "2", start, off)
    return {"Account": accounts, "TaxCode": [tax]}
