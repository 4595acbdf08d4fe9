"""Apply versioned raw SQL migrations from Django management commands."""
