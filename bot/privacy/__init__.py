"""Privacy: redaction before storage, data-subject export and erasure, retention (purge)."""
