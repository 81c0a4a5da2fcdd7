"""The duplicates rule's default bars, in a module light enough for the command line's --help."""

from __future__ import annotations

#: Posterior match probability a pair needs to be a duplicate.
THRESHOLD = 0.5

#: The match probability a duplicate needs before it is proposed for deactivation on its own. Below
#: it (but at or above the threshold) it goes to a manual merge: hiding a customer by mistake costs
#: far more than a duplicate left for a person to settle (at costs 9:1 the Bayes decision is 0.9).
DEACTIVATE_AT = 0.9

#: Default lower bound of "possible duplicates": on the sandbox's planted truth (12 companies),
#: about half the pairs scored 0.1-0.5 were duplicates and none of those scored 0.05-0.1.
REVIEW = 0.1

#: Largest cluster allowed: a longer chain of pairwise matches is split (guards against chaining).
MAX_CLUSTER = 20
