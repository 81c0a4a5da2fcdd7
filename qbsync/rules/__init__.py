"""Customer rules over the cache: activity, inactive, reactivate, disappearing, duplicates, write-back."""
