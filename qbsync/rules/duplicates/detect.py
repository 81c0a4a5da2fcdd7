"""Duplicate detection end to end, as one pure function: customer records in, clusters and findings out."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from qbsync.rules.duplicates import fellegi_sunter as fs
from qbsync.rules.duplicates.blocking import DEFAULT_KEYS, BlockingKey, candidate_pairs
from qbsync.rules.duplicates.cluster import clusters as group
from qbsync.rules.duplicates.compare import NULL, Compared, compare, exact_pair_counts
from qbsync.rules.duplicates.defaults import DEACTIVATE_AT, MAX_CLUSTER, REVIEW, THRESHOLD
from qbsync.rules.duplicates.records import CustomerRecord, Prepared, matchable, prepare
from qbsync.rules.duplicates.survivor import Activity, MemberFacts, choose, facts, txn_counts
from qbsync.rules.findings import Finding

RULE = "duplicates"

#: The normalised values shown next to each comparison in an explanation.
_SHOWN = {"given name": ("given",), "family name": ("family",), "company": ("company",), "email": ("email",),
          "phone": ("phone1", "phone2"), "street number": ("street_no",), "street": ("street",),
          "address line 2": ("line2",), "locality": ("postcode", "city", "region"), "contact details": (),
          "activity": ("history",), "kind": ()}


@dataclass(frozen=True)
class FieldEvidence:
    """How one field of a pair compared and what that was worth (bits; + for match, - against)."""

    comparison: str
    level: str
    left: str
    right: str
    bits: float


@dataclass(frozen=True)
class PairMatch:
    """A scored pair with its per-field explanation."""

    left_id: str
    right_id: str
    probability: float
    weight: float  # total match weight in bits, prior included
    swapped_names: bool
    fields: tuple[FieldEvidence, ...]
    left_name: str = ""
    right_name: str = ""

    def summary(self, top: int = 4) -> str:
        """The strongest reasons, for a one-line reason: "family name exact +9.1, street close +10.5"."""
        ranked = sorted((f for f in self.fields if f.bits != 0), key=lambda f: -abs(f.bits))[:top]
        parts = [f"{f.comparison} {f.level.split(' (')[0]} {f.bits:+.1f}" for f in ranked]
        if self.swapped_names:
            parts.append("given/family swapped")
        return ", ".join(parts)


@dataclass(frozen=True)
class Member:
    """One record of a cluster, with the facts write-back decides on."""

    customer_id: str
    display_name: str
    active: bool
    balance: Decimal
    sync_token: str | None
    survivor: bool
    facts: MemberFacts
    link: PairMatch | None  # its link to the survivor (or its strongest link in the cluster)
    deactivate_at: float = DEACTIVATE_AT

    @property
    def sure_enough(self) -> bool:
        """Matched confidently enough to deactivate without a person looking."""
        return self.link is not None and self.link.probability >= self.deactivate_at

    @property
    def proposed_action(self) -> str:
        if self.survivor:
            return "none"
        if self.facts.safe_to_deactivate and self.balance == 0:
            if not self.active:
                return "none"  # already inactive: nothing to write
            return "deactivate" if self.sure_enough else "merge"
        return "merge"


@dataclass(frozen=True)
class DuplicateCluster:
    """Records of one real customer: the proposed survivor first."""

    cluster_id: str
    survivor_id: str
    members: tuple[Member, ...]
    links: tuple[PairMatch, ...]  # every matched pair inside the cluster

    @property
    def survivor(self) -> Member:
        return self.members[0]


@dataclass
class DuplicateReport:
    """Everything one run found, plus how it was found (for the user and the benchmarks)."""

    clusters: list[DuplicateCluster]
    findings: list[Finding]
    model: fs.Model
    threshold: float
    records: int
    candidate_pairs: int
    matched_pairs: int
    per_key: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    #: Pairs below ``threshold`` but at or above ``review``, not already in one cluster, strongest
    #: first: for a person to look at. They are no findings, so nothing is ever written for them.
    possible: list[PairMatch] = field(default_factory=list)
    review: float | None = None

    def summary(self) -> dict[str, Any]:
        return {"records": self.records, "candidate_pairs": self.candidate_pairs,
                "matched_pairs": self.matched_pairs, "clusters": len(self.clusters),
                "duplicates": sum(len(c.members) - 1 for c in self.clusters), "threshold": self.threshold,
                "review_threshold": self.review, "possible_pairs": len(self.possible),
                "prior": self.model.prior, "em_iterations": self.model.iterations,
                "em_converged": self.model.converged, "seconds": self.seconds}


@dataclass
class Scored:
    """The scoring stage's output: what evaluation (blocking recall, pairwise P/R) looks at."""

    prep: Prepared
    compared: Compared
    model: fs.Model
    scores: fs.Scores
    per_key: dict[str, int]
    seconds: dict[str, float]


def score_pairs(records: Sequence[CustomerRecord], *, activity: Activity | None = None,
                default_country: str | None = None, keys: Iterable[BlockingKey] = DEFAULT_KEYS,
                u_samples: int = 200_000, seed: int = 0) -> Scored:
    """Normalise, block, compare, learn the model by EM and score every candidate pair (``activity``
    feeds the activity comparison; without it that comparison is missing for every pair)."""
    seconds: dict[str, float] = {}
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        seconds[name] = round(now - t, 3)
        t = now

    prep = prepare(records, default_country, txn_counts(records, activity))
    lap("normalise")
    cand = candidate_pairs(prep, keys)
    lap("block")
    compared = compare(prep, cand)
    lap("compare")
    u = fs.estimate_u(prep, samples=u_samples, seed=seed)
    model = fs.fit(compared, u, len(prep), exact_pairs=exact_pair_counts(prep))
    lap("em")
    scores = fs.score(model, compared, len(prep))
    lap("score")
    return Scored(prep, compared, model, scores, cand.per_key, seconds)


def explain(scored: Scored, k: int) -> PairMatch:
    """The per-field explanation of candidate pair ``k``."""
    prep, cmp_, sc = scored.prep, scored.compared, scored.scores
    a, b = int(cmp_.left[k]), int(cmp_.right[k])
    swapped = bool(cmp_.swapped[k])
    evidence = []
    for f, comp in enumerate(cmp_.comparisons):
        level = int(cmp_.gamma[k, f])
        cols = _SHOWN[comp.name]
        left = " / ".join(v for v in (prep.col(c)[a] for c in cols) if v)
        right_cols = cols
        if swapped and comp.name in ("given name", "family name"):
            right_cols = ("family",) if comp.name == "given name" else ("given",)
        right = " / ".join(v for v in (prep.col(c)[b] for c in right_cols) if v)
        if level == NULL and not left and not right:
            continue
        label = "missing" if level == NULL else comp.levels[level]
        evidence.append(FieldEvidence(comp.name, label, left, right, round(float(sc.bits[k, f]), 2)))
    ra, rb = prep.records[a], prep.records[b]
    return PairMatch(ra.customer_id, rb.customer_id, float(sc.probability[k]), round(float(sc.weight[k]), 2),
                     swapped, tuple(evidence), ra.display_name, rb.display_name)


def _reason(member: Member, survivor: Member, n: int) -> str:
    link = member.link
    prob = (f"match probability {link.probability:.3f} ({link.summary()})" if link
            else "linked through the cluster")
    f = member.facts
    if f.txn_count is None:
        history = "transactions unknown"
    else:
        history = (f"{f.txn_count} transaction{'' if f.txn_count == 1 else 's'}"
                   + (f", last {f.last_activity}" if f.last_activity else ""))
    money = f"balance {member.balance:.2f}"
    if f.unapplied_credit:
        money += f", unapplied credit {f.unapplied_credit:.2f}"
    verdict = {"deactivate": "no transactions and no balance: deactivate",
               "none": "no transactions and no balance, already inactive: nothing to do"}.get(
        member.proposed_action, "merge it into the survivor by hand in QuickBooks")
    if member.proposed_action == "merge" and member.facts.safe_to_deactivate and member.balance == 0:
        verdict = (f"no transactions and no balance, but matched below {member.deactivate_at:.2f}: check by "
                   "hand, then merge or deactivate it in QuickBooks")
    return (f"same customer as '{survivor.display_name}' (Id {survivor.customer_id}), "
            f"cluster of {n}: {prob}; {history}; {money}; {verdict}")


def _findings(cluster: DuplicateCluster, realm_id: str) -> list[Finding]:
    survivor = cluster.survivor
    ids = [m.customer_id for m in cluster.members]
    out = []
    for m in cluster.members:
        base: dict[str, Any] = {"cluster_id": cluster.cluster_id, "survivor_id": survivor.customer_id,
                "survivor_name": survivor.display_name, "members": ids, "role": "survivor" if m.survivor else
                "duplicate", "txn_count": m.facts.txn_count, "has_transactions": m.facts.has_transactions,
                "balance": str(m.balance), "open_balance": str(m.facts.open_balance),
                "unapplied_credit": str(m.facts.unapplied_credit), "completeness": m.facts.completeness}
        if m.link is not None:
            base["probability"] = round(m.link.probability, 6)
            base["match_weight"] = m.link.weight
            base["evidence"] = [{"comparison": e.comparison, "level": e.level, "left": e.left,
                                 "right": e.right, "bits": e.bits} for e in m.link.fields]
        if m.survivor:
            reason = (f"proposed survivor of {len(ids) - 1} duplicate(s): "
                      f"{m.facts.txn_count if m.facts.txn_count is not None else 'unknown'} "
                      f"transaction{'' if m.facts.txn_count == 1 else 's'}, "
                      f"{m.facts.completeness} contact fields filled, {'active' if m.active else 'inactive'}")
        else:
            reason = _reason(m, survivor, len(ids))
        out.append(Finding(realm_id=realm_id or "", customer_id=m.customer_id, display_name=m.display_name,
                           rule=RULE, action=m.proposed_action,  # type: ignore[arg-type]
                           reason=reason, facts=base, score=m.link.probability if m.link else None,
                           sync_token=m.sync_token, active=m.active))
    return out


def detect_duplicates(records: Sequence[CustomerRecord], *, activity: Activity | None = None,
                      threshold: float = THRESHOLD, default_country: str | None = None,
                      keys: Iterable[BlockingKey] = DEFAULT_KEYS, max_cluster: int = MAX_CLUSTER,
                      review: float | None = REVIEW, deactivate_at: float = DEACTIVATE_AT) -> DuplicateReport:
    """Clusters of records that are the same customer, each with a proposed survivor, and findings.

    ``threshold`` is the posterior match probability a pair needs (0.5: more likely the same
    customer than not). Pairs from ``review`` up to it are listed as possible duplicates for a
    person to decide (None: not listed); a duplicate is proposed for deactivation only from
    ``deactivate_at``. ``activity`` (from ``load_activity``, or plain transaction
    counts) drives the survivor choice and whether a duplicate may be deactivated; without it every
    duplicate is proposed for a manual merge, since no one knows it has no transactions. Jobs
    (sub-customers) are left out: they follow their parent.
    """
    records = matchable(records)
    scored = score_pairs(records, activity=activity, default_country=default_country, keys=keys)
    t = time.perf_counter()
    cmp_, sc = scored.compared, scored.scores
    groups = group(len(records), cmp_.left, cmp_.right, sc.probability, threshold=threshold,
                   max_size=max_cluster)
    clustered = np.zeros(len(records), dtype=bool)
    for members in groups:
        clustered[members] = True
    inside = np.nonzero(clustered[cmp_.left] & clustered[cmp_.right])[0]
    pair_index = {(int(cmp_.left[k]), int(cmp_.right[k])): int(k) for k in inside}
    result: list[DuplicateCluster] = []
    findings: list[Finding] = []
    explained: dict[int, PairMatch] = {}

    def why(k: int) -> PairMatch:
        if k not in explained:
            explained[k] = explain(scored, k)
        return explained[k]

    for members in groups:
        recs = [records[i] for i in members]
        mfacts = [facts(r, activity) for r in recs]
        s = choose(recs, mfacts)
        order = [s] + [k for k in range(len(members)) if k != s]
        links = [why(pair_index[(x, y)]) for i, x in enumerate(members) for y in members[i + 1:]
                 if (x, y) in pair_index and sc.probability[pair_index[(x, y)]] >= threshold]
        survivor_idx = members[s]
        out_members = []
        for k in order:
            idx = members[k]
            link = None
            if k != s:
                key = (min(idx, survivor_idx), max(idx, survivor_idx))
                if key in pair_index:
                    link = why(pair_index[key])
                else:
                    mine = [lk for lk in links if recs[k].customer_id in (lk.left_id, lk.right_id)]
                    link = max(mine, key=lambda lk: lk.probability) if mine else None
            rec = recs[k]
            out_members.append(Member(rec.customer_id, rec.display_name, rec.active, rec.balance,
                                      rec.sync_token, k == s, mfacts[k], link, deactivate_at))
        cluster = DuplicateCluster(f"D{len(result) + 1}", recs[s].customer_id, tuple(out_members),
                                   tuple(links))
        result.append(cluster)
        findings.extend(_findings(cluster, recs[s].realm_id))
    possible = []
    if review is not None and review < threshold:
        cluster_of = np.full(len(records), -1)
        for k, members in enumerate(groups):
            cluster_of[members] = k
        band = np.nonzero((sc.probability >= review) & (sc.probability < threshold))[0]
        ca, cb = cluster_of[cmp_.left[band]], cluster_of[cmp_.right[band]]
        band = band[~((ca >= 0) & (ca == cb))]
        possible = [explain(scored, int(k)) for k in band[np.argsort(-sc.probability[band], kind="stable")]]
    scored.seconds["cluster"] = round(time.perf_counter() - t, 3)
    matched = int((sc.probability >= threshold).sum())
    return DuplicateReport(result, findings, scored.model, threshold, len(records), len(cmp_.left), matched,
                           scored.per_key, scored.seconds, possible, review)


def evaluate_pairs(clusters: Sequence[Sequence[str]], truth: dict[str, str]) -> dict[str, float]:
    """Pairwise precision, recall and F1 of clusters (lists of ids) against true entity labels."""
    predicted: set[tuple[str, str]] = set()
    for c in clusters:
        ids = sorted(c)
        predicted.update((a, b) for i, a in enumerate(ids) for b in ids[i + 1:])
    by_entity: dict[str, list[str]] = {}
    for rid, ent in truth.items():
        by_entity.setdefault(ent, []).append(rid)
    true_pairs = sum(len(v) * (len(v) - 1) // 2 for v in by_entity.values())
    tp = sum(1 for a, b in predicted if truth.get(a) is not None and truth.get(a) == truth.get(b))
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_pairs": float(true_pairs),
            "predicted_pairs": float(len(predicted)), "true_positives": float(tp)}


def blocking_recall(scored: Scored, truth: dict[str, str]) -> float:
    """Share of true duplicate pairs that blocking proposed at all (the ceiling on recall)."""
    ids = [r.customer_id for r in scored.prep.records]
    ent = np.array([truth.get(i, f"\0{i}") for i in ids], dtype=object)
    found = int((ent[scored.compared.left] == ent[scored.compared.right]).sum())
    counts: dict[str, int] = {}
    for e in ent:
        counts[e] = counts.get(e, 0) + 1
    total = sum(c * (c - 1) // 2 for c in counts.values())
    return found / total if total else 1.0
