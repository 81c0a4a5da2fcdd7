"""Write-back of the customer Active flag: plan -> apply -> undo, every attempt audited in the cache.

Public entry points: ``build_plan`` (plan.py), ``apply_plan`` (apply.py), ``undo_run`` (undo.py),
``audit_log`` / ``runs`` (audit.py); rendering in render.py. It sits beside ``rules`` (whose findings
it turns into plans) and, unlike the pure rules, talks to QuickBooks, only through the
``QboGateway`` protocol.
"""
