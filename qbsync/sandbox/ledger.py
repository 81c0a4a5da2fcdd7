"""Business rules of writes: creates, full/sparse updates, deactivation, delete, void, and balances."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from qbsync.sandbox import apifault, catalog, postings, wire
from qbsync.sandbox.store import Store
from qbsync.sandbox.webhooks import change_operation

DELETED_SUFFIX = " (deleted)"
MAX_JOB_LEVEL = 4
DEFAULT_CURRENCY = {"value": "USD", "name": "United States Dollar"}

# Fields the server owns: ignored when a client sends them, kept from the stored object on update.
_SERVER_FIELDS = frozenset({
    "Id", "SyncToken", "MetaData", "domain", "sparse", "Balance", "BalanceWithJobs", "FullyQualifiedName",
    "Level", "Job", "TotalAmt", "UnappliedAmt", "RemainingCredit", "HomeBalance", "HomeTotalAmt", "status"})


def _client_fields(entity: str, body: dict[str, Any]) -> dict[str, Any]:
    """The part of a request body the client may set (a payment's TotalAmt is the client's)."""
    return {k: v for k, v in _clean(body).items()
            if k not in _SERVER_FIELDS or (entity == "Payment" and k == "TotalAmt")}


_DOC_NUMBERED = ("Invoice", "SalesReceipt", "CreditMemo", "Estimate", "RefundReceipt")


def _clean(value: Any) -> Any:
    """Drop None and "" (python-quickbooks serialises unset fields that way); QBO omits empty fields."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None and v != ""}
    if isinstance(value, list):
        return [_clean(v) for v in value if v is not None]
    return value


def _strip_suffix(name: str) -> str:
    return name[: -len(DELETED_SUFFIX)] if name.endswith(DELETED_SUFFIX) else name


def _ref_id(obj: dict[str, Any], key: str) -> int | None:
    ref = obj.get(key)
    if isinstance(ref, dict) and str(ref.get("value", "")).isdigit():
        return int(ref["value"])
    return None


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    skip = ("MetaData", "SyncToken", "sparse")
    return wire.dumps({k: v for k, v in a.items() if k not in skip}) == \
        wire.dumps({k: v for k, v in b.items() if k not in skip})


class Ledger:
    """Applies QBO's write semantics to one Store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- helpers ----

    def today(self, realm: str) -> date:
        return self.store.clock.now().astimezone(self.store.tz(realm)).date()

    def _currency(self, realm: str) -> dict[str, Any]:
        prefs = self.store.get(realm, "Preferences", "1") or {}
        home = (prefs.get("CurrencyPrefs") or {}).get("HomeCurrency")
        if isinstance(home, dict) and home.get("value"):
            return {"value": home["value"], "name": home.get("name", home["value"])}
        return dict(DEFAULT_CURRENCY)

    def _require_current(self, realm: str, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        id_ = str(body.get("Id", ""))
        if not id_.isdigit():
            raise apifault.invalid_id(id_)
        current = self.store.get(realm, entity, id_)
        if current is None:
            raise apifault.not_found(entity, id_)
        token = body.get("SyncToken")
        if token is None or token == "":
            raise apifault.required("SyncToken")
        if str(token) != str(current.get("SyncToken", "0")):
            raise apifault.stale()
        return current

    # ---- entry points ----

    def write(self, realm: str, entity: str, body: dict[str, Any], operation: str | None = None,
              include: str | None = None) -> dict[str, Any]:
        """One POST to /{entity}: create, update, delete or void. Returns the object (or the stub)."""
        if not isinstance(body, dict):
            raise apifault.ApiFault(400, "2010", "Request has invalid or unsupported property",
                                    "Request body must be a JSON object")
        if entity in catalog.SINGLETONS:
            return self._update_singleton(realm, entity, body)
        with self.store.transaction():
            if operation == "delete":
                return self.delete(realm, entity, body)
            if operation == "void" or include == "void":
                return self.void(realm, entity, body)
            if body.get("Id") not in (None, "", 0, "0"):
                return self.update(realm, entity, body)
            return self.create(realm, entity, body)

    def create(self, realm: str, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        obj = _client_fields(entity, body)
        obj = self._normalize(realm, entity, obj, None)
        saved = self.store.create(realm, entity, obj)
        self._after_write(realm, entity, None, saved)
        return saved

    def update(self, realm: str, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        current = self._require_current(realm, entity, body)
        sent = _client_fields(entity, body)
        if body.get("sparse") is True:
            merged = copy.deepcopy(current)
            merged.update(sent)
        else:
            # Full update: writable fields left out become NULL (absent); server fields stay.
            merged = {k: v for k, v in current.items() if k in _SERVER_FIELDS}
            merged.update(sent)
        merged = self._normalize(realm, entity, merged, current)
        if _same(merged, current):
            return current  # recorded: a no-op update leaves SyncToken and LastUpdatedTime alone
        saved = self.store.save(realm, entity, merged, event=change_operation(entity, current, merged))
        self._after_write(realm, entity, current, saved)
        return saved

    def delete(self, realm: str, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        if not catalog.is_transaction(entity):
            raise apifault.ApiFault(400, "500", "Unsupported Operation",
                                    f"Operation Delete is not supported for {entity}: make it inactive "
                                    "with a sparse update (Active=false) instead.", element=None)
        current = self._require_current(realm, entity, body)
        if entity == "Invoice" or entity == "CreditMemo":
            self._unlink_payments(realm, current)
        journal = self.store.journal_ar(realm, current) if entity == "JournalEntry" else {}
        self.store.delete(realm, entity, current["Id"])
        if entity == "Payment":
            self._refresh_linked(realm, current)
        for cid in {_ref_id(current, "CustomerRef"), *journal}:
            self._refresh_customer(realm, cid)
        return {"domain": "QBO", "status": "Deleted", "Id": current["Id"]}

    def void(self, realm: str, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        if entity not in ("Invoice", "Payment", "SalesReceipt", "CreditMemo", "RefundReceipt"):
            raise apifault.ApiFault(400, "500", "Unsupported Operation",
                                    f"Operation Void is not supported for {entity}.", element=None)
        current = self._require_current(realm, entity, body)
        if entity in ("Invoice", "CreditMemo"):
            self._unlink_payments(realm, current)
            current = self.store.get(realm, entity, current["Id"]) or current
        voided = copy.deepcopy(current)
        for line in voided.get("Line", []):
            line["Amount"] = 0
            detail = line.get("SalesItemLineDetail")
            if isinstance(detail, dict) and "Qty" in detail:
                detail["Qty"] = 0
        voided["TotalAmt"] = 0
        if "Balance" in voided or entity == "Invoice":
            voided["Balance"] = 0
        if entity == "Payment":
            voided["UnappliedAmt"] = 0
        voided["PrivateNote"] = "Voided"
        if entity == "CreditMemo":
            voided["RemainingCredit"] = 0
        saved = self.store.save(realm, entity, voided, event="Void")
        if entity == "Payment":
            self._refresh_linked(realm, current)
        self._refresh_customer(realm, _ref_id(saved, "CustomerRef"))
        return saved

    def _update_singleton(self, realm: str, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.store.transaction():
            body = dict(body)
            body.setdefault("Id", "1")
            current = self._require_current(realm, entity, body)
            merged = copy.deepcopy(current)
            merged.update({k: v for k, v in _clean(body).items() if k not in _SERVER_FIELDS})
            if _same(merged, current):
                return current
            return self.store.save(realm, entity, merged)

    # ---- normalisation per entity ----

    def _normalize(self, realm: str, entity: str, obj: dict[str, Any],
                   current: dict[str, Any] | None) -> dict[str, Any]:
        obj.setdefault("domain", "QBO")
        obj["sparse"] = False
        if entity in catalog.PEOPLE:
            self._normalize_person(realm, entity, obj, current)
        elif entity in catalog.NAME_LISTS:
            self._normalize_named(realm, entity, obj, current)
        elif entity == "Payment":
            self._normalize_payment(realm, obj, current)
        elif entity == "JournalEntry":
            self._normalize_journal(realm, obj)
        elif entity in catalog.TRANSACTIONS:
            self._normalize_sale(realm, entity, obj, current)
        return obj

    def _check_unique(self, realm: str, entities: tuple[str, ...], name: str, entity: str,
                      self_id: str | None) -> None:
        for ent, id_ in self.store.ids_named(realm, entities, name):
            if not (ent == entity and str(id_) == self_id):
                raise apifault.duplicate_name()

    def _normalize_person(self, realm: str, entity: str, obj: dict[str, Any],
                          current: dict[str, Any] | None) -> None:
        name = obj.get("DisplayName")
        if not name:
            parts = [obj.get(k, "") for k in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")]
            name = " ".join(p for p in parts if p) or obj.get("CompanyName", "")
        if not name:
            raise apifault.required("DisplayName")
        base = _strip_suffix(str(name)).strip()
        if any(ch in base for ch in (":", "\t", "\n")):
            raise apifault.ApiFault(400, "6000", "A business validation error has occurred while processing "
                                    "your request", "Business Validation Error: The name cannot contain a "
                                    "colon (:), tab or newline.")
        active = obj.get("Active", True) is not False
        obj["Active"] = active
        obj["DisplayName"] = base if active else base + DELETED_SUFFIX
        self_id = current["Id"] if current else None
        self._check_unique(realm, catalog.PEOPLE, obj["DisplayName"], entity, self_id)
        obj.setdefault("PrintOnCheckName", base)
        obj.setdefault("CurrencyRef", self._currency(realm))
        if entity == "Customer":
            self._place_job(realm, obj, base, current)
            obj.setdefault("Taxable", True)
            obj.setdefault("BillWithParent", False)
            obj.setdefault("PreferredDeliveryMethod", "Print")
            obj.setdefault("Balance", current.get("Balance", 0) if current else 0)
            obj.setdefault("BalanceWithJobs", current.get("BalanceWithJobs", 0) if current else 0)
            deactivating = current is not None and current.get("Active") is not False and not active
            if deactivating and wire.to_decimal((current or {}).get("BalanceWithJobs",
                                                                    (current or {}).get("Balance"))) != 0:
                raise apifault.has_balance()
        elif entity == "Vendor":
            obj.setdefault("Balance", current.get("Balance", 0) if current else 0)
            obj.setdefault("Vendor1099", False)

    def _place_job(self, realm: str, obj: dict[str, Any], base: str, current: dict[str, Any] | None) -> None:
        parent_id = _ref_id(obj, "ParentRef")
        if parent_id is None:
            obj.pop("ParentRef", None)
            obj.pop("Level", None)
            obj["Job"] = False
            obj["FullyQualifiedName"] = obj["DisplayName"]
            return
        if current is not None and parent_id == int(current["Id"]):
            raise apifault.invalid_reference("ParentRef", str(parent_id))
        parent = self.store.get(realm, "Customer", parent_id)
        if parent is None:
            raise apifault.invalid_reference("ParentRef", str(parent_id))
        level = int(parent.get("Level", 0)) + 1
        if level > MAX_JOB_LEVEL:
            raise apifault.ApiFault(400, "6000", "A business validation error has occurred while processing "
                                    "your request", f"Business Validation Error: sub-customers can be nested "
                                    f"at most {MAX_JOB_LEVEL} levels deep.")
        obj["ParentRef"] = {"value": str(parent_id), "name": _strip_suffix(parent.get("DisplayName", ""))}
        obj["Job"] = True
        obj["Level"] = level
        parent_fqn = _strip_suffix(parent.get("FullyQualifiedName", parent.get("DisplayName", "")))
        obj["FullyQualifiedName"] = f"{parent_fqn}:{obj['DisplayName']}"

    def _normalize_named(self, realm: str, entity: str, obj: dict[str, Any],
                         current: dict[str, Any] | None) -> None:
        name = obj.get("Name")
        if not name:
            raise apifault.required("Name")
        base = _strip_suffix(str(name)).strip()
        active = obj.get("Active", True) is not False
        obj["Active"] = active
        obj["Name"] = base if active else base + DELETED_SUFFIX
        self._check_unique(realm, (entity,), obj["Name"], entity, current["Id"] if current else None)
        parent_id = _ref_id(obj, "ParentRef")
        if parent_id is not None:
            parent = self.store.get(realm, entity, parent_id)
            if parent is None:
                raise apifault.invalid_reference("ParentRef", str(parent_id))
            obj["FullyQualifiedName"] = f"{_strip_suffix(parent.get('FullyQualifiedName', ''))}:{obj['Name']}"
            if entity in ("Class", "Department"):
                obj[f"Sub{entity}"] = True
        else:
            obj["FullyQualifiedName"] = obj["Name"]
            if entity in ("Class", "Department"):
                obj[f"Sub{entity}"] = False

    def _customer_ref(self, realm: str, obj: dict[str, Any], required: bool) -> int | None:
        cid = _ref_id(obj, "CustomerRef")
        if cid is None:
            if required:
                raise apifault.required("CustomerRef")
            return None
        customer = self.store.get(realm, "Customer", cid)
        if customer is None:
            raise apifault.invalid_reference("CustomerRef", str(cid))
        if customer.get("Active") is False:
            raise apifault.not_found("Customer", str(cid))
        obj["CustomerRef"] = {"value": str(cid), "name": customer.get("DisplayName", "")}
        return cid

    def _next_doc_number(self, realm: str, entity: str) -> str:
        rows = self.store._read(
            "SELECT MAX(CAST(doc AS INTEGER)) FROM objects WHERE realm = ? AND entity = ? "
            "AND doc GLOB '[0-9]*'", (realm, entity))
        return str(int(rows[0][0] or 1000) + 1)

    def _normalize_sale(self, realm: str, entity: str, obj: dict[str, Any],
                        current: dict[str, Any] | None) -> None:
        self._customer_ref(realm, obj, required=entity != "SalesReceipt")
        lines_in = obj.get("Line")
        if not isinstance(lines_in, list) or not lines_in:
            raise apifault.required("Line")
        lines: list[dict[str, Any]] = []
        subtotal = Decimal(0)
        discount = Decimal(0)
        next_line = 1
        for raw in lines_in:
            if not isinstance(raw, dict) or raw.get("DetailType") == "SubTotalLineDetail":
                continue
            line = dict(raw)
            detail_type = line.get("DetailType", "SalesItemLineDetail")
            line["DetailType"] = detail_type
            found = line.get(detail_type)
            detail: dict[str, Any] = dict(found) if isinstance(found, dict) else {}
            if detail_type == "SalesItemLineDetail":
                detail.setdefault("TaxCodeRef", {"value": "NON"})
                line[detail_type] = detail
                if "Amount" not in line and "Qty" in detail and "UnitPrice" in detail:
                    line["Amount"] = float(wire.to_decimal(Decimal(str(detail["Qty"])) *
                                                           Decimal(str(detail["UnitPrice"]))))
            if detail_type == "DiscountLineDetail":
                line[detail_type] = detail
                if detail.get("PercentBased") and "DiscountPercent" in detail and "Amount" not in line:
                    # QuickBooks computes a percent discount on the lines above it (the subtotal).
                    pct = Decimal(str(detail["DiscountPercent"]))
                    line["Amount"] = float(wire.to_decimal(subtotal * pct / 100))
            amount = wire.to_decimal(line.get("Amount"))
            line["Amount"] = float(amount)
            if detail_type == "DiscountLineDetail":
                discount += amount
            elif detail_type in ("SalesItemLineDetail", "GroupLineDetail"):
                subtotal += amount
            if detail_type != "DiscountLineDetail" or "Id" not in line:
                line["Id"] = str(next_line)
                line["LineNum"] = next_line
            next_line += 1
            lines.append(line)
        lines.append({"Amount": float(subtotal), "DetailType": "SubTotalLineDetail",
                      "SubTotalLineDetail": {}})
        obj["Line"] = lines
        found_tax = obj.get("TxnTaxDetail")
        tax_detail: dict[str, Any] = dict(found_tax) if isinstance(found_tax, dict) else {}
        tax = wire.to_decimal(tax_detail.get("TotalTax"))
        obj["TxnTaxDetail"] = {**tax_detail, "TotalTax": float(tax)}
        total = subtotal - discount + tax
        obj["TotalAmt"] = float(total)
        txn_date = obj.get("TxnDate") or self.today(realm).isoformat()
        obj["TxnDate"] = txn_date
        if entity in _DOC_NUMBERED and not obj.get("DocNumber"):
            obj["DocNumber"] = (current or {}).get("DocNumber") or self._next_doc_number(realm, entity)
        obj.setdefault("CurrencyRef", self._currency(realm))
        obj.setdefault("ApplyTaxAfterDiscount", False)
        obj.setdefault("PrintStatus", "NeedToPrint")
        obj.setdefault("EmailStatus", "NotSet")
        if entity == "Invoice":
            try:
                due_default = (date.fromisoformat(txn_date) + timedelta(days=30)).isoformat()
            except ValueError:
                raise apifault.ApiFault(400, "2070", "Invalid Date", f"TxnDate {txn_date} is not a date",
                                        element="TxnDate") from None
            obj.setdefault("DueDate", due_default)
            for flag in ("AllowIPNPayment", "AllowOnlinePayment", "AllowOnlineCreditCardPayment",
                         "AllowOnlineACHPayment"):
                obj.setdefault(flag, False)
            # Payment links are the server's; other links (estimates) are the client's.
            kept = [lt for lt in (current or {}).get("LinkedTxn", []) if lt.get("TxnType") == "Payment"]
            sent = [lt for lt in obj.get("LinkedTxn", []) if lt.get("TxnType") != "Payment"]
            obj["LinkedTxn"] = sent + kept
            paid = self._applied_total(realm, current["Id"], kept) if current else Decimal(0)
            obj["Balance"] = float(total - paid)
        elif entity == "CreditMemo":
            used = self._credit_used(realm, current["Id"]) if current else Decimal(0)
            obj["Balance"] = float(total - used)
            obj["RemainingCredit"] = float(total - used)
        elif entity == "SalesReceipt" or entity == "RefundReceipt":
            obj["Balance"] = 0
        elif entity == "Estimate":
            obj.setdefault("TxnStatus", "Pending")

    def _applied_total(self, realm: str, invoice_id: str, links: list[dict[str, Any]]) -> Decimal:
        paid = Decimal(0)
        for link in links:
            payment = self.store.get(realm, "Payment", link.get("TxnId", ""))
            if payment is None:
                continue
            for line in payment.get("Line", []):
                for lt in line.get("LinkedTxn", []):
                    if lt.get("TxnType") == "Invoice" and str(lt.get("TxnId")) == str(invoice_id):
                        paid += wire.to_decimal(line.get("Amount"))
        return paid

    def _normalize_payment(self, realm: str, obj: dict[str, Any], current: dict[str, Any] | None) -> None:
        cid = self._customer_ref(realm, obj, required=True)
        total_raw = obj.get("TotalAmt", (current or {}).get("TotalAmt"))
        if total_raw is None:
            raise apifault.required("TotalAmt")
        total = wire.to_decimal(total_raw)
        applied = Decimal(0)
        lines = []
        for raw in obj.get("Line", []) or []:
            line = dict(raw)
            amount = wire.to_decimal(line.get("Amount"))
            line["Amount"] = float(amount)
            sign = 1
            for lt in line.get("LinkedTxn", []) or []:
                if lt.get("TxnType") == "CreditMemo":
                    self._check_credit_use(realm, cid, lt, amount, current)
                    sign = -1
                    continue
                if lt.get("TxnType") != "Invoice":
                    raise apifault.business("A business validation error has occurred while processing your "
                                            "request", f"Business Validation Error: applying a payment to a "
                                            f"{lt.get('TxnType')} is not modelled by the qbsync sandbox "
                                            "(invoices and credit memos only).")
                inv = self.store.get(realm, "Invoice", lt.get("TxnId", ""))
                if inv is None:
                    raise apifault.invalid_reference("LinkedTxn", str(lt.get("TxnId")))
                if _ref_id(inv, "CustomerRef") != cid:
                    raise apifault.business("A business validation error has occurred while processing your "
                                            "request",
                                            "Business Validation Error: the linked invoice belongs "
                                            "to another customer.")
                already = (self._applied_total(realm, inv["Id"], [{"TxnId": current["Id"]}]) if current
                           else Decimal(0))
                if amount > wire.to_decimal(inv.get("Balance")) + already:
                    raise apifault.business("A business validation error has occurred while processing your "
                                            "request", f"Business Validation Error: the amount applied to "
                                            f"invoice {inv['Id']} is more than its open balance.")
            applied += sign * amount  # a credit memo line adds to what the payment can apply
            lines.append(line)
        if applied > total:
            raise apifault.business("A business validation error has occurred while processing your request",
                                    "Business Validation Error: the payment applies more than its total.")
        obj["Line"] = lines
        obj["TotalAmt"] = float(total)
        obj["UnappliedAmt"] = float(total - applied)
        obj.setdefault("TxnDate", self.today(realm).isoformat())
        obj.setdefault("CurrencyRef", self._currency(realm))
        obj.setdefault("ProcessPayment", False)

    def _check_credit_use(self, realm: str, cid: int | None, link: dict[str, Any], amount: Decimal,
                          current: dict[str, Any] | None) -> None:
        cm = self.store.get(realm, "CreditMemo", link.get("TxnId", ""))
        if cm is None:
            raise apifault.invalid_reference("LinkedTxn", str(link.get("TxnId")))
        if _ref_id(cm, "CustomerRef") != cid:
            raise apifault.business("A business validation error has occurred while processing your request",
                                    "Business Validation Error: the linked credit memo belongs to another "
                                    "customer.")
        already = self._credit_used(realm, cm["Id"], only=current["Id"]) if current else Decimal(0)
        if amount > wire.to_decimal(cm.get("Balance", cm.get("TotalAmt"))) + already:
            raise apifault.business("A business validation error has occurred while processing your request",
                                    f"Business Validation Error: the amount applied from credit memo "
                                    f"{cm['Id']} is more than its remaining credit.")

    def _credit_used(self, realm: str, memo_id: str, only: str | None = None) -> Decimal:
        """What payments (or only payment ``only``) apply from credit memo ``memo_id``."""
        memo = self.store.get(realm, "CreditMemo", memo_id)
        rows = self.store._read(
            "SELECT data FROM objects WHERE realm = ? AND entity = 'Payment' AND customer_id = ?",
            (realm, _ref_id(memo or {}, "CustomerRef")))
        used = Decimal(0)
        for (text,) in rows:
            payment = json.loads(text)
            if only is not None and payment["Id"] != only:
                continue
            for line in payment.get("Line", []):
                if any(lt.get("TxnType") == "CreditMemo" and str(lt.get("TxnId")) == str(memo_id)
                       for lt in line.get("LinkedTxn", [])):
                    used += wire.to_decimal(line.get("Amount"))
        return used

    def _normalize_journal(self, realm: str, obj: dict[str, Any]) -> None:
        lines = obj.get("Line")
        if not isinstance(lines, list) or not lines:
            raise apifault.required("Line")
        ar_ids = self.store.ar_account_ids(realm)
        debits = credits = Decimal(0)
        for n, raw in enumerate(lines, start=1):
            if not isinstance(raw, dict):
                raise apifault.required("Line")
            raw.setdefault("DetailType", "JournalEntryLineDetail")
            detail = raw.get("JournalEntryLineDetail")
            if raw["DetailType"] == "DescriptionOnly":
                continue
            if not isinstance(detail, dict):
                raise apifault.required("JournalEntryLineDetail")
            posting = str(detail.get("PostingType", ""))
            if posting not in ("Debit", "Credit"):
                raise apifault.required("PostingType")
            if not isinstance(detail.get("AccountRef"), dict):
                raise apifault.required("AccountRef")
            amount = wire.to_decimal(raw.get("Amount"))
            raw["Amount"] = float(amount)
            raw.setdefault("Id", str(n - 1))
            if posting == "Debit":
                debits += amount
            else:
                credits += amount
            cid = postings.line_customer(detail)
            entity = detail.get("Entity")
            if cid is not None:
                customer = self.store.get(realm, "Customer", cid)
                if customer is None or customer.get("Active") is False:
                    raise apifault.invalid_reference("Entity", str(cid))
                assert isinstance(entity, dict)
                entity["EntityRef"] = {"value": str(cid), "name": customer.get("DisplayName", "")}
            if postings.is_ar_account(detail["AccountRef"], ar_ids) and cid is None:
                raise apifault.business("A business validation error has occurred while processing your "
                                        "request", "Business Validation Error: When you use Accounts "
                                        "Receivable, you must choose a customer in the Name field.")
        if debits != credits:
            raise apifault.business("A business validation error has occurred while processing your request",
                                    f"Business Validation Error: Transaction is out of balance: debits "
                                    f"{debits} and credits {credits} must be equal.")
        obj["TotalAmt"] = float(debits)
        obj["TxnDate"] = obj.get("TxnDate") or self.today(realm).isoformat()
        obj.setdefault("Adjustment", False)
        obj.setdefault("CurrencyRef", self._currency(realm))

    # ---- side effects ----

    def _refresh_linked(self, realm: str, payment: dict[str, Any]) -> None:
        for inv_id in sorted(self._linked_invoices(payment)):
            self._refresh_invoice(realm, inv_id)
        for memo_id in sorted(self._linked_credits(payment)):
            self._refresh_credit_memo(realm, memo_id)

    @staticmethod
    def _linked_credits(payment: dict[str, Any]) -> set[str]:
        return {str(lt.get("TxnId")) for line in payment.get("Line", []) for lt in line.get("LinkedTxn", [])
                if lt.get("TxnType") == "CreditMemo"}

    def _refresh_credit_memo(self, realm: str, memo_id: str) -> None:
        memo = self.store.get(realm, "CreditMemo", memo_id)
        if memo is None:
            return
        left = float(wire.to_decimal(memo.get("TotalAmt")) - self._credit_used(realm, memo_id))
        if memo.get("Balance") != left or memo.get("RemainingCredit") != left:
            memo["Balance"] = memo["RemainingCredit"] = left
            self.store.save(realm, "CreditMemo", memo)

    @staticmethod
    def _linked_invoices(payment: dict[str, Any]) -> set[str]:
        return {str(lt.get("TxnId")) for line in payment.get("Line", []) for lt in line.get("LinkedTxn", [])
                if lt.get("TxnType") == "Invoice"}

    def _after_write(self, realm: str, entity: str, before: dict[str, Any] | None,
                     after: dict[str, Any]) -> None:
        if entity == "Payment":
            touched = self._linked_invoices(after) | (self._linked_invoices(before) if before else set())
            for inv_id in sorted(touched):
                self._refresh_invoice(realm, inv_id)
            memos = self._linked_credits(after) | (self._linked_credits(before) if before else set())
            for memo_id in sorted(memos):
                self._refresh_credit_memo(realm, memo_id)
        if entity == "JournalEntry":
            journal = {*self.store.journal_ar(realm, after), *(self.store.journal_ar(realm, before)
                                                               if before else {})}
            for jid in sorted(journal):
                self._refresh_customer(realm, jid)
        if entity in catalog.BALANCE_ENTITIES:
            customers = {_ref_id(after, "CustomerRef")}
            if before:
                customers.add(_ref_id(before, "CustomerRef"))
            for cid in customers:
                self._refresh_customer(realm, cid)
        if entity == "Customer":
            was_active = before is None or before.get("Active") is not False
            if was_active and after.get("Active") is False:
                self._deactivate_jobs(realm, int(after["Id"]))
            if before is not None and _ref_id(before, "ParentRef") != _ref_id(after, "ParentRef"):
                self._refresh_customer(realm, _ref_id(before, "ParentRef"))
                self._refresh_customer(realm, int(after["Id"]))

    def _deactivate_jobs(self, realm: str, parent_id: int) -> None:
        # Unconfirmed on the real API (the UI does this): deactivating a parent deactivates its jobs.
        for job in self.store.children(realm, "Customer", parent_id):
            if job.get("Active") is False:
                continue
            job["Active"] = False
            job["DisplayName"] = _strip_suffix(job.get("DisplayName", "")) + DELETED_SUFFIX
            self.store.save(realm, "Customer", job, event="Delete")
            self._deactivate_jobs(realm, int(job["Id"]))

    def _refresh_invoice(self, realm: str, invoice_id: str) -> None:
        inv = self.store.get(realm, "Invoice", invoice_id)
        if inv is None:
            return
        links = [lt for lt in inv.get("LinkedTxn", []) if lt.get("TxnType") != "Payment"]
        pay_links: list[dict[str, Any]] = []
        rows = self.store._read(
            "SELECT data FROM objects WHERE realm = ? AND entity = 'Payment' AND customer_id = ?",
            (realm, _ref_id(inv, "CustomerRef")))
        for (text,) in rows:
            payment = json.loads(text)
            if invoice_id in self._linked_invoices(payment):
                pay_links.append({"TxnId": payment["Id"], "TxnType": "Payment"})
        paid = self._applied_total(realm, invoice_id, pay_links)
        new = copy.deepcopy(inv)
        new["LinkedTxn"] = links + pay_links
        new["Balance"] = float(wire.to_decimal(inv.get("TotalAmt")) - paid)
        if not _same(new, inv):
            self.store.save(realm, "Invoice", new)

    def _unlink_payments(self, realm: str, txn: dict[str, Any]) -> None:
        """Before an invoice is deleted or voided, its payments become unapplied."""
        for link in txn.get("LinkedTxn", []):
            if link.get("TxnType") != "Payment":
                continue
            payment = self.store.get(realm, "Payment", link.get("TxnId", ""))
            if payment is None:
                continue
            kept = []
            for line in payment.get("Line", []):
                if any(str(lt.get("TxnId")) == str(txn["Id"]) for lt in line.get("LinkedTxn", [])):
                    continue
                kept.append(line)
            memos = self._linked_credits(payment)

            def applied(lines: list[dict[str, Any]]) -> Decimal:
                return sum((wire.to_decimal(ln.get("Amount")) *
                            (-1 if any(lt.get("TxnType") == "CreditMemo" for lt in ln.get("LinkedTxn", []))
                             else 1) for ln in lines), Decimal(0))

            if applied(kept) < 0:  # the credit it used is released, as QuickBooks does
                kept = [ln for ln in kept
                        if not any(lt.get("TxnType") == "CreditMemo" for lt in ln.get("LinkedTxn", []))]
            payment["Line"] = kept
            payment["UnappliedAmt"] = float(wire.to_decimal(payment.get("TotalAmt")) - applied(kept))
            self.store.save(realm, "Payment", payment)
            for memo_id in sorted(memos):
                self._refresh_credit_memo(realm, memo_id)

    def _refresh_customer(self, realm: str, customer_id: int | None) -> None:
        """Recompute Balance/BalanceWithJobs up the parent chain. A balance change moves LastUpdatedTime
        (so CDC sees it) but not SyncToken, as recorded."""
        seen: set[int] = set()
        while customer_id is not None and customer_id not in seen:
            seen.add(customer_id)
            customer = self.store.get(realm, "Customer", customer_id)
            if customer is None:
                return
            own = self.store.open_balance(realm, customer_id)
            jobs = sum((wire.to_decimal(j.get("BalanceWithJobs", j.get("Balance")))
                        for j in self.store.children(realm, "Customer", customer_id)), Decimal(0))
            if (wire.to_decimal(customer.get("Balance")) != own or
                    wire.to_decimal(customer.get("BalanceWithJobs")) != own + jobs):
                customer["Balance"] = float(own)
                customer["BalanceWithJobs"] = float(own + jobs)
                self.store.save(realm, "Customer", customer, bump_sync=False)
            customer_id = _ref_id(customer, "ParentRef")
