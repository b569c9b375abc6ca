// Public interface of the agent component (filled in by its issue).
