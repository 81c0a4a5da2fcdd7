"""A crafted company for the document tests: every section of the HTML report has something to show.

Regular buyers (some of whom stop) for the disappearing backtest, open invoices in every aging
bucket, two locations, an unapplied credit, a duplicate pair, a campaign with a control group and
a sent batch, lost customers with reasons, a customer writing in Chinese and one whose name is
markup (it must come out as text).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from qbsync.cache.schema import open_cache
from qbsync.clock import FixedClock
from qbsync.customers import file as cfile
from tests.builder import CacheBuilder

AS_OF = date(2025, 6, 30)
CLOCK = FixedClock(datetime(2025, 6, 30, 12, tzinfo=UTC))
COMPANY_INFO = {"CompanyName": "Padaria Estrela Lda", "Country": "US",
                "CompanyAddr": {"Line1": "12 Harbor Way", "City": "Fall River",
                                "CountrySubDivisionCode": "MA", "PostalCode": "02720", "Country": "US"},
                "PrimaryPhone": {"FreeFormNumber": "(508) 555-0142"},
                "Email": {"Address": "contas@estrela.example"}}


def build(url: str) -> CacheBuilder:
    import sqlalchemy as sa

    from qbsync.cache.models import Realm

    c = CacheBuilder(url)
    with c.engine.begin() as conn:
        conn.execute(sa.update(Realm).where(Realm.realm_id == c.realm_id).values(
            company_name=COMPANY_INFO["CompanyName"], country="US", currency="USD",
            raw_company_info=COMPANY_INFO))
    c.department("1", "Harbor")
    c.department("2", "Downtown")
    for i in range(10, 50):  # regular buyers; some stop
        c.customer(str(i), f"Regular {i}", email=f"r{i}@example.com", city="Fall River", postal="02720",
                   line1=f"{i} Main St")
        stop = AS_OF - timedelta(days=25 * (i % 8) + 1)
        day = date(2023, 1, 1) + timedelta(days=i)
        while day <= stop:
            c.receipt(str(i), day, str(20 + i % 9), dept="1" if i % 3 else "2")
            day += timedelta(days=12 + i % 6)
    c.customer("2", "Acme Bakery Supply", email="ap@acme.example", line1="1 Flour Rd", city="Fall River",
               postal="02720", company="Acme Bakery Supply")
    for days, total in ((-10, "120.00"), (15, "230.00"), (45, "340.00"), (75, "450.00"), (120, "560.00")):
        due = AS_OF - timedelta(days=days)
        c.invoice("2", due - timedelta(days=30), total, due=due, dept="2", doc=f"A-{days}")
    c.credit_memo("2", AS_OF - timedelta(days=5), "25.00")
    c.customer("3", "王小明", email="wang@example.cn", line1="88 Harbor Way", city="Fall River",
               postal="02720")
    c.invoice("3", AS_OF - timedelta(days=50), "188.00", due=AS_OF - timedelta(days=20), dept="1", doc="C-1")
    c.customer("4", "<script>alert(1)</script> & Sons", email="x@example.com")
    c.invoice("4", AS_OF - timedelta(days=200), "99.99", due=AS_OF - timedelta(days=170), doc="X-1")
    for cid, name in (("7", "Ana García"), ("8", "João Simões")):
        c.customer(cid, name, email=f"c{cid}@example.com", line1=f"{cid} Ocean St", city="Fall River",
                   postal="02720")
        c.invoice(cid, AS_OF - timedelta(days=70), "75.50", due=AS_OF - timedelta(days=40), doc=f"L-{cid}")
    # the same customer twice
    for cid in ("5", "6"):
        c.customer(cid, "Maria Oliveira", given="Maria", family="Oliveira",
                   email="maria.oliveira@example.com", phone="+1 508 555 0199", line1="7 Rua Nova",
                   city="Fall River", postal="02720")
    c.receipt("5", AS_OF - timedelta(days=40), "60.00", dept="1")
    engine = open_cache(url)  # stamped at the head revision, as a synced cache is
    cfile.mark_lost(engine, c.realm_id, "11", "price", date(2025, 2, 1), CLOCK)
    cfile.mark_lost(engine, c.realm_id, "12", "moved", date(2025, 5, 10), CLOCK)
    cfile.mark_lost(engine, c.realm_id, "13", "price", date(2025, 5, 20), CLOCK)
    cfile.set_language(engine, c.realm_id, "3", "zh", CLOCK)
    engine.dispose()
    return c
