"""Disappearing customers: BG/NBD and Pareto/NBD fits, the own-rhythm score, backtest and ranking."""
