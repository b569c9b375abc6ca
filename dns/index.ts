// Public interface of the dns component (filled in by its issue).
