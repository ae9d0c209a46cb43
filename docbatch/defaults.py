"""Defaults of a job's shape, in one place: ``Settings`` starts from them, and the
workflows' wire messages (``docbatch.messages``) fall back to them for a field that a
payload — or a history recorded before the field existed — does not carry."""

PAGE_SIZE = 100
MAX_CONCURRENT_CHILDREN = 100
"""Most child workflows in flight per job."""
INITIAL_CONCURRENT_CHILDREN = 4
"""Child workflows in flight when a job starts; the window adapts from there."""
JOB_TIMEOUT_SECONDS = 600.0
WEBHOOK_RETRY_HOURS = 24.0
WEBHOOK_INITIAL_RETRY_SECONDS = 5.0
